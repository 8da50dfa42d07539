namespace K3dEtcd.Model;

/// <summary>One certificate the module issued for a TLS cluster, with what a member serves (never key content).</summary>
public sealed class EtcdCertificate
{
    public string Cluster { get; init; } = "";
    /// <summary>CA, Server, Peer, Client (the cluster's own), K3s (New-K3dCluster) or Issued (New-EtcdClientCertificate).</summary>
    public string Role { get; init; } = "";
    /// <summary>The member whose certificate it is (server and peer certificates), else the k3d cluster or common name.</summary>
    public string? Member { get; init; }
    public string Subject { get; init; } = "";
    public string[] Sans { get; init; } = [];
    public string Thumbprint { get; init; } = "";
    /// <summary>The thumbprint of the CA certificate that signed it (its own for the CA).</summary>
    public string? IssuerThumbprint { get; init; }
    public DateTime NotBefore { get; init; }
    public DateTime NotAfter { get; init; }
    /// <summary>Days until NotAfter (negative once expired).</summary>
    public double DaysLeft { get; init; }
    public string Path { get; init; } = "";
    /// <summary>For server and peer certificates: the thumbprint the member serves on its client (server) or peer port, read over TLS; null when it could not be read.</summary>
    public string? ServedThumbprint { get; init; }
    /// <summary>True when the member serves the certificate of this file; null when not read.</summary>
    public bool? Served => ServedThumbprint is null ? null : string.Equals(ServedThumbprint, Thumbprint, StringComparison.OrdinalIgnoreCase);
    /// <summary>Why the served certificate could not be read (port not reachable from this host, ...).</summary>
    public string? ServedError { get; init; }
    public bool Expired => DaysLeft < 0;

    public override string ToString() => $"{Role} {Member} {Path}";
}

/// <summary>What Update-EtcdCertificate renewed: one object per certificate.</summary>
public sealed class EtcdCertificateRenewal
{
    public string Cluster { get; init; } = "";
    public string Role { get; init; } = "";
    public string? Member { get; init; }
    public string Path { get; init; } = "";
    public DateTime? OldNotAfter { get; init; }
    public DateTime? NewNotAfter { get; init; }
    /// <summary>How the member took the new certificate: reloaded (etcd reads it on each new handshake), recreated, or a file rewritten in place.</summary>
    public string How { get; init; } = "";
    public bool WhatIf { get; init; }
}

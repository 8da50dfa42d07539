using System.Management.Automation;
using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Gets a k3d cluster's kubeconfig (`k3d kubeconfig get`), optionally pointing it at another host and writing it to a file.</para>
/// <para type="description">Returns the kubeconfig text, or writes it to -Path (mode 0600 on Unix) and returns the file. With -Server,
/// a server address of 0.0.0.0 becomes the given host; a warning says so when that host is not among the API server
/// certificate's names (k3s defaults, k3d's and the cluster's --tls-san values), because kubectl would then refuse it.</para>
/// </summary>
/// <example>
/// <code>Get-K3dKubeconfig topgun -Server 192.0.2.10 -Path ./topgun.yaml</code>
/// <para>Writes a kubeconfig that reaches the API at 192.0.2.10 (a -TlsSan of the cluster) to ./topgun.yaml.</para>
/// </example>
/// <example>
/// <code>$env:KUBECONFIG = (Get-K3dKubeconfig topgun -Path ~/.kube/topgun).FullName</code>
/// <para>Saves the kubeconfig and points kubectl at it for this session.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "K3dKubeconfig", SupportsShouldProcess = true)]
[OutputType(typeof(string), typeof(FileInfo))]
public sealed partial class GetK3dKubeconfigCommand : K3dCmdletBase
{
    /// <summary>The k3d cluster name.</summary>
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(K3dClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>Host name or IP address that replaces a 0.0.0.0 server address (it must be in the API certificate's SANs: see New-K3dCluster -TlsSan).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Server { get; set; }

    /// <summary>Write the kubeconfig to this file (returned as a FileInfo) instead of returning its text.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>The k3d executable (default: K3DETCD_K3D_PATH, then k3d on PATH).</summary>
    [Parameter]
    public string? K3dPath { get; set; }

    [GeneratedRegex(@"(?m)^(?<indent>\s*server:\s*https://)(?<host>0\.0\.0\.0|\[::\])(?<port>:\d+)")]
    private static partial Regex AnyAddressServer();

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            var service = await GetK3dServiceAsync(ResolvePath(K3dPath), ct);
            var text = await service.GetKubeconfigAsync(Name, ct);
            if (Server is { } host)
            {
                if (!AnyAddressServer().IsMatch(text)) WriteWarning($"The kubeconfig of '{Name}' has no 0.0.0.0 server address; left unchanged.");
                text = AnyAddressServer().Replace(text, m => m.Groups["indent"].Value + (host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host) + m.Groups["port"].Value);
                var info = (await service.ListAsync(ct)).FirstOrDefault(c => c.Name == Name);
                var sans = info is null ? [] : K3dEtcd.K3d.K3dSans.Of(info.Name, info.TlsSans, info.ApiHost);
                if (!sans.Contains(host, StringComparer.OrdinalIgnoreCase))
                {
                    WriteWarning($"'{host}' is not in the API server certificate's SANs ({string.Join(", ", sans)}): kubectl will reject the certificate. Re-create the cluster with -TlsSan {host}.");
                }
            }
            if (Path is null)
            {
                WriteObject(text);
                return;
            }
            var file = GetUnresolvedProviderPathFromPSPath(Path);
            if (!ShouldProcess(file, $"Write the kubeconfig of k3d cluster '{Name}'")) return;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, text, ct);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            WriteObject(new FileInfo(file));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}

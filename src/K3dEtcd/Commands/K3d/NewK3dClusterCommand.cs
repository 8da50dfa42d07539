using System.Management.Automation;
using System.Security;
using System.Security.Cryptography;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Creates a k3d (k3s) cluster whose servers use an external datastore: an etcd cluster from New-EtcdCluster, or any k3s datastore string.</para>
/// <para type="description">Runs the installed k3d (found on PATH, or -K3dPath) with the arguments its version accepts: k3d v5 gets
/// --k3s-arg "ARG@server:*" (a literal '@' escaped as '\@') and the token and the K3S_DATASTORE_* variables in a k3d config file
/// (--config; created 0600 in a private 0700 directory and removed when k3d returns, so no secret is in the process list);
/// k3d v3/v4 get --token, -e and --k3s-server-arg (with a warning that the process list shows them); k3d before v3 is refused.
/// The endpoint and TLS file paths reach the servers as K3S_DATASTORE_* environment variables; a TLS etcd cluster's CA, client
/// certificate and key are mounted read-only into the server nodes. For an EtcdCluster the nodes join its Docker network and use
/// the members' in-network URLs. A name that is taken (found by k3d's list or its k3d.cluster Docker label) is refused before
/// anything is made or changed.</para>
/// <para type="description">Before anything is created, the datastore is probed from inside Docker (as Test-K3dDatastore does) and a
/// datastore holding k3s /bootstrap data made with another token is refused. k3d's log lines feed the progress bar and Verbose.
/// A failure or Ctrl+C deletes the half-made k3d cluster with `k3d cluster delete`; the etcd cluster is never touched. After k3d
/// returns, the cmdlet waits until keys appear under /registry/ (kube-apiserver's first writes) unless -SkipVerify.
/// -WhatIf prints the exact k3d command line, quoted for your shell (the token and passwords masked), and creates nothing.</para>
/// <para type="description">The k3s token (given or generated) is kept on an etcd cluster of K3dEtcd: in its TLS directory, or for a
/// plain cluster in the per-user data directory (~/.local/share/k3detcd/clusters/ETCD), as k3d/NAME/token (a 0600 file in a 0700
/// directory, written atomically before k3d runs, never printed and never on a command line). k3s seals its bootstrap data in the
/// datastore with it, so a restored or reused datastore needs it: Get-K3dCluster -IncludeToken returns it, Test-K3dDatastore checks it,
/// and a later New-K3dCluster of the same name on the same etcd cluster uses it again when -Token is absent. It stays after
/// Remove-K3dCluster and goes with the etcd cluster (Remove-EtcdCluster). A failed create puts back the token that was kept before.</para>
/// </summary>
/// <example>
/// <code>$etcd = New-EtcdCluster -Tls; $etcd | New-K3dCluster topgun -Servers 3 -Agents 5 -TlsSan 192.0.2.10, k3s.example.test</code>
/// <para>Creates k3d cluster topgun with three servers and five agents on the TLS etcd cluster, with two extra API certificate names.</para>
/// </example>
/// <example>
/// <code>New-K3dCluster pg -Datastore 'postgres://k3s:secret@db:5432/k3s' -Network dbnet</code>
/// <para>Creates a cluster on a PostgreSQL datastore reachable on the Docker network dbnet (the password never shows in any output).</para>
/// </example>
/// <example>
/// <code>$etcd | New-K3dCluster topgun -Masters 3 -Workers 2 -WhatIf</code>
/// <para>Prints the k3d command line that would run, with the older names -Masters/-Workers for -Servers/-Agents.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "K3dCluster", SupportsShouldProcess = true)]
[OutputType(typeof(K3dCluster))]
public sealed class NewK3dClusterCommand : K3dCmdletBase
{
    /// <summary>The k3d cluster name (containers are k3d-NAME-server-N, k3d-NAME-agent-N).</summary>
    [Parameter(Position = 0, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>An EtcdCluster (from the pipeline), an etcd cluster's name, or a k3s datastore string (http(s)://... list, postgres://..., mysql://...tcp(host:port)...).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Alias("Cluster", "DatastoreEndpoint")]
    [ValidateNotNull]
    public object Datastore { get; set; } = null!;

    /// <summary>Number of k3s servers.</summary>
    [Parameter]
    [Alias("Masters")]
    [ValidateRange(1, 99)]
    public int Servers { get; set; } = 1;

    /// <summary>Number of k3s agents.</summary>
    [Parameter]
    [Alias("Workers")]
    [ValidateRange(0, 99)]
    public int Agents { get; set; }

    /// <summary>Extra host names or IP addresses for the API server certificate (k3s --tls-san).</summary>
    [Parameter]
    public string[] TlsSan { get; set; } = [];

    /// <summary>[HOST:]PORT to publish the Kubernetes API on; k3d picks a free port when absent.</summary>
    [Parameter]
    public string? ApiPort { get; set; }

    /// <summary>The k3s image (k3d's default when absent).</summary>
    [Parameter]
    public string? Image { get; set; }

    /// <summary>The k3s cluster token (a SecureString, such as the Token of another K3dCluster, or plain text); when absent, the token kept for a k3d cluster of this name on this etcd cluster, else a generated one; returned on the object. It encrypts the datastore's /bootstrap data, and it is kept (0600) in the etcd cluster's private directory, k3d/NAME/token.</summary>
    [Parameter]
    [SecureStringTransformation]
    [ValidateNotNull]
    public SecureString? Token { get; set; }

    /// <summary>More k3s server arguments, passed to every server (with k3d v5: --k3s-arg ARG@server:*).</summary>
    [Parameter]
    [Alias("K3sArgs")]
    public string[] K3sArgument { get; set; } = [];

    /// <summary>How long k3d may take (its --timeout) and how long to wait for k3s's keys under /registry/.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 300;

    /// <summary>Do not merge the cluster into the default kubeconfig (nor switch context).</summary>
    [Parameter]
    public SwitchParameter NoKubeconfigUpdate { get; set; }

    /// <summary>Skip the datastore probe (Test-K3dDatastore) that runs before anything is created.</summary>
    [Parameter]
    public SwitchParameter SkipPreflight { get; set; }

    /// <summary>Skip checking, after k3d returns, that k3s wrote keys under /registry/ (for a k3d that runs no real k3s).</summary>
    [Parameter]
    public SwitchParameter SkipVerify { get; set; }

    /// <summary>The k3d executable (default: K3DETCD_K3D_PATH, then k3d on PATH).</summary>
    [Parameter]
    public string? K3dPath { get; set; }

    /// <summary>The Docker network for the nodes; defaults to the etcd cluster's network.</summary>
    [Parameter]
    public string? Network { get; set; }

    /// <summary>CA file for an https:// datastore string (mounted read-only into the servers).</summary>
    [Parameter]
    public string? CaFile { get; set; }

    /// <summary>Client certificate for an https:// datastore string.</summary>
    [Parameter]
    public string? CertFile { get; set; }

    /// <summary>Client key for an https:// datastore string.</summary>
    [Parameter]
    public string? KeyFile { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            var (cli, version, _) = await LocateK3dAsync(ResolvePath(K3dPath), ct, showOnly: MyInvocation.BoundParameters.ContainsKey("WhatIf"));
            var (resolved, etcd) = await ResolveDatastoreAsync(Datastore, Network, ResolvePath(CaFile), ResolvePath(CertFile), ResolvePath(KeyFile), null, ct);
            // A TLS etcd cluster: k3s gets its own client certificate from the cluster's CA (made after
            // ShouldProcess; -WhatIf shows where it will be). -CertFile/-KeyFile override it.
            var (target, certificate) = K3dEngineService.PlanClientCertificate(resolved, etcd, Name, callerGaveCertificate: CertFile is not null || KeyFile is not null, callerGaveCa: CaFile is not null);
            // The token is kept beside the etcd cluster's other private files; one kept for an earlier k3d cluster of this
            // name on this etcd cluster is used again when -Token is absent: the datastore's bootstrap data is sealed with it.
            var tokenFile = etcd is null ? null : K3sTokenStore.FileFor(etcd, Name);
            var kept = Token is null && tokenFile is not null ? K3sTokenStore.Read(tokenFile) : null;
            var generated = Token is null && kept is null;
            var token = Token is not null ? SecureStringTransformationAttribute.ToPlainText(Token)
                : kept ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            if (token.Length == 0) throw new K3dEtcdException(ErrorCatalog.InvalidK3sToken, "-Token is empty; pass the k3s token (or leave -Token out to have one generated).", "Token");
            if (kept is not null) WriteVerbose($"Using the k3s token kept for k3d cluster '{Name}' in {tokenFile} (-Token was not given).");
            if (tokenFile is null) WriteVerbose("The k3s token is not kept: the datastore is not an etcd cluster of K3dEtcd (keep the Token of the result yourself).");
            var spec = new K3dClusterSpec
            {
                Name = Name,
                Datastore = target,
                Servers = Servers,
                Agents = Agents,
                TlsSan = TlsSan,
                ApiPort = ApiPort,
                Image = Image,
                Token = token,
                K3sArguments = K3sArgument,
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                NoKubeconfigUpdate = NoKubeconfigUpdate,
                Network = Network,
            };
            var built = K3dClusterService.BuildCreate(cli, version, spec);
            var commandLine = CommandLineQuoting.ForCurrentShell(cli.Path, built.Display);
            var config = built.ConfigDisplay is null ? "" : $" with this {built.ConfigApiVersion} config file (private, removed when k3d returns): {built.ConfigDisplay}";
            var description = $"Create k3d cluster '{Name}' ({Servers} servers, {Agents} agents) on datastore {target.Masked}{(generated ? " with a generated token" : kept is not null ? " with the token kept for it" : "")}{(tokenFile is null ? "" : $" (token kept in {tokenFile})")}: {commandLine}{config}";
            if (!ShouldProcess(description, $"Create k3d cluster '{Name}' on {target.Masked}?", "New-K3dCluster")) return;

            // Every k3d version: an existing cluster is found (JSON list, or its k3d.cluster Docker
            // label on k3d v3.0-v3.3) before anything is made, so a refusal changes nothing.
            var docker = await GetDockerAsync(ct);
            var withProbe = (!SkipPreflight || !SkipVerify) && target.Kind == DatastoreKind.Etcd;
            var service = EtcdServices.K3dEngine(EtcdServices.K3d(cli, version, docker, withProbe, this), GetDockerAsync, this);
            var (info, verified) = await service.CreateAsync(spec, new K3dCreateOptions { SkipPreflight = SkipPreflight, SkipVerify = SkipVerify }, certificate, ct, tokenFile);
            if (SkipVerify) WriteVerbose("Not checked that k3s writes under /registry/ (-SkipVerify).");
            var datastore = (object?)etcd ?? target.Masked;
            if (info is null)
            {
                WriteObject(new K3dCluster { Name = Name, Servers = Servers, Agents = Agents, Datastore = datastore, Network = spec.EffectiveNetwork ?? $"k3d-{Name}", Token = Token ?? ToSecureString(token), K3dVersion = version.Text, DatastoreVerified = verified, KubeconfigPath = K3dClusterService.FindKubeconfig(Name) });
                return;
            }
            WriteObject(await ToK3dClusterAsync(info, version, datastore, Token ?? ToSecureString(token), verified, ct));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}

using System.Management.Automation;
using K3dEtcd.Browser;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Serves a live, Kubernetes-aware view of an etcd cluster to your web browser, from this PowerShell session.</para>
/// <para type="description">The page shows the keys as a tree by '/' segments with counts (read lazily, fine at 100k keys) and a filter box; /registry/ grouped by resource, namespace and name with each object's Kind and ApiVersion; a key's value as text, indented JSON, the decoded Kubernetes protobuf envelope or hex, with its revisions, lease and earlier values while etcd still has them; an activity feed of puts and deletes pushed by a watch; and the members, leader, raft term and index, database size and follower latency, refreshed live. It works with TLS clusters. The server listens on 127.0.0.1 only, on a free port unless -Port, and every request needs the access token in the returned Url (the page keeps it in a cookie and removes it from the address bar). It is read-only unless -AllowWrite. It runs in the background until Stop-EtcdBrowser, the end of the session or Remove-Module K3dEtcd. Without -NoBrowser the default web browser opens the page; when none can be started the command still succeeds and you open the Url yourself.</para>
/// </summary>
/// <example>
/// <code>$b = Start-EtcdBrowser -Cluster etcd</code>
/// <para>Opens the page for the cluster named etcd in the default web browser and keeps the returned object for Stop-EtcdBrowser.</para>
/// </example>
/// <example>
/// <code>Start-EtcdBrowser -Cluster $secure -NoBrowser | Select-Object -ExpandProperty Url</code>
/// <para>Serves a TLS cluster and prints the address to open instead of starting a browser.</para>
/// </example>
/// <example>
/// <code>Start-EtcdBrowser -Endpoint http://127.0.0.1:2379 -Port 8079 -AllowWrite</code>
/// <para>Serves any etcd on port 8079 and lets the page put and delete keys (each confirmed in the page).</para>
/// </example>
[Cmdlet(VerbsLifecycle.Start, "EtcdBrowser", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true)]
[OutputType(typeof(EtcdBrowser))]
public sealed class StartEtcdBrowserCommand : EtcdDataCmdlet
{
    /// <summary>Loopback port to listen on; a free one when left out.</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int Port { get; set; }

    /// <summary>Let the page put and delete keys (each change is confirmed in the page).</summary>
    [Parameter]
    public SwitchParameter AllowWrite { get; set; }

    /// <summary>Do not start a web browser; open the returned Url yourself.</summary>
    [Parameter]
    public SwitchParameter NoBrowser { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var options = await GetConnectionOptionsAsync(ct);
        var target = TargetDescription;
        if (!ShouldProcess(target, $"Serve an etcd browser on 127.0.0.1:{(Port == 0 ? "<free port>" : Port.ToString())}{(AllowWrite ? " that can put and delete keys" : "")}")) return;
        // The connection outlives this command, so it must not log into it (no pipeline to write to later).
        var connection = EtcdConnection.Open(options, NullOperationLog.Instance);
        EtcdBrowserServer server;
        try
        {
            // Fail here, with the usual error ids, rather than on an empty page: unreachable etcd, TLS or access problems.
            WriteVerbose($"etcd: checking that {target} answers.");
            await new EtcdKeyService(connection).CountAsync(new EtcdKeyQuery(), ct);
            server = EtcdBrowserServer.Start(connection, new EtcdBrowserOptions
            {
                ClusterName = target,
                Port = Port,
                AllowWrite = AllowWrite,
                HostEndpoints = TargetHostEndpoints,
            });
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        EtcdBrowserSessions.Register(server);
        // The token is left out on purpose: it is in the returned object's Url only.
        WriteVerbose($"Serving the etcd browser for {target} at {server.BaseUrl} (read-{(AllowWrite ? "write" : "only")}).");
        if (!NoBrowser && !BrowserLauncher.TryOpen(server, out var problem))
        {
            WriteWarning($"No web browser could be started ({problem}); open the Url of the returned object.");
        }
        WriteObject(server.Describe());
    }
}

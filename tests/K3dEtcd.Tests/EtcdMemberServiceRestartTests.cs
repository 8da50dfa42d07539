using K3dEtcd.Common;
using K3dEtcd.Members;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>The member service's restart (Restart-EtcdMember): rolling keeps the quorum, a declined member is left alone.</summary>
[Collection(DockerServicesCollection.Name)]
public sealed class EtcdMemberServiceRestartTests(DockerFixture fx)
{
    private EtcdMemberService Members() => new(fx.Service(), NullOperationLog.Instance) { Timeout = TimeSpan.FromSeconds(60) };

    private static string StartedAt(string container)
    {
        var r = Cli.Run("docker", "inspect", "-f", "{{.State.StartedAt}}", container);
        Assert.Equal(0, r.ExitCode);
        return r.Output.Trim();
    }

    [Fact]
    public async Task A_rolling_restart_restarts_each_confirmed_member_one_at_a_time_and_leaves_a_declined_one_alone()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("restart"), CancellationToken.None);
        try
        {
            var service = Members();
            var before = cluster.Members.ToDictionary(m => m.Name, m => StartedAt(m.ContainerName));
            var declined = cluster.Members[1].Name;
            var asked = new List<string>();
            var yielded = new List<IReadOnlyList<EtcdClusterMember>>();
            await foreach (var step in service.RestartMembersAsync(cluster, cluster.Members, rolling: true, kill: false, force: false,
                m => { asked.Add(m.Name); return Task.FromResult(m.Name != declined); }, CancellationToken.None))
            {
                yielded.Add(step);
                // Each member is back before the next one stops: between two steps every member runs.
                var now = await service.GetClusterAsync(cluster.Name, CancellationToken.None);
                Assert.All(now.Members, m => Assert.Equal("running", m.State));
            }

            Assert.Equal(cluster.Members.Select(m => m.Name), asked);
            Assert.Equal(cluster.Members.Where(m => m.Name != declined).Select(m => m.Name), yielded.Select(s => Assert.Single(s).Name));
            foreach (var m in cluster.Members)
            {
                var changed = StartedAt(m.ContainerName) != before[m.Name];
                Assert.True(changed == (m.Name != declined), $"{m.Name}: restarted {changed}");
            }
            var after = await service.GetClusterAsync(cluster.Name, CancellationToken.None);
            Assert.Equal(EtcdClusterState.Running, after.State);
        }
        finally
        {
            await fx.Service().RemoveAsync(cluster.Name, keepData: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Restarting_together_what_would_lose_the_quorum_is_refused_before_anything_changes()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("restartq"), CancellationToken.None);
        try
        {
            var before = cluster.Members.ToDictionary(m => m.Name, m => StartedAt(m.ContainerName));
            var asked = 0;
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(async () =>
            {
                await foreach (var _ in Members().RestartMembersAsync(cluster, cluster.Members, rolling: false, kill: false, force: false,
                    _ => { asked++; return Task.FromResult(true); }, CancellationToken.None)) { }
            });
            Assert.Equal("QuorumLoss", ex.ErrorId);
            Assert.Contains("use -Rolling", ex.Message);
            Assert.Equal(0, asked);
            Assert.All(cluster.Members, m => Assert.Equal(before[m.Name], StartedAt(m.ContainerName)));
        }
        finally
        {
            await fx.Service().RemoveAsync(cluster.Name, keepData: false, CancellationToken.None);
        }
    }
}

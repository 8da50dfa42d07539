using K3dEtcd.Common;
using K3dEtcd.Clusters;
using K3dEtcd.K3d;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// New-/Remove-K3dCluster's service: the k3s client certificate it issues from a TLS etcd
/// cluster's CA (removed when the create fails, and with the cluster), and the datastore removed
/// on request. k3d is the fake; the etcd cluster and its CA are real.
/// </summary>
[Collection(DockerServicesCollection.Name)]
public sealed class K3dEngineServiceTests(DockerFixture fx)
{
    private static string K3dName(string stem) => $"{stem}{Guid.NewGuid():N}"[..20];

    private static DatastoreTarget Target(EtcdCluster c) => new()
    {
        Endpoint = string.Join(",", c.NetworkEndpoints),
        Kind = DatastoreKind.Etcd,
        Network = c.Network,
        CaFile = c.Tls?.CaFile,
        CertFile = c.Tls?.ClientCertFile,
        KeyFile = c.Tls?.ClientKeyFile,
        EtcdClusterName = c.Name,
        ProbeImage = c.Image,
    };

    private static K3dClusterSpec Spec(string name, DatastoreTarget ds) => new()
    {
        Name = name,
        Datastore = ds,
        Servers = 1,
        Token = "tok-engine",
        Timeout = TimeSpan.FromSeconds(60),
    };

    private K3dEngineService Engine(K3dClusterService k3d) => new(k3d, _ => Task.FromResult(fx.Service()), NullOperationLog.Instance);

    [Fact]
    public void The_certificate_plan_names_the_k3d_directory_and_respects_what_the_caller_gave()
    {
        var tls = new EtcdTlsInfo { Directory = "/tls/etcd", CaFile = "/tls/etcd/ca.pem", ClientCertFile = "/tls/etcd/client.pem", ClientKeyFile = "/tls/etcd/client-key.pem" };
        var etcd = new EtcdCluster { Name = "etcd", Tls = tls };
        var target = new DatastoreTarget { Endpoint = "https://etcd0:2379", Kind = DatastoreKind.Etcd, CaFile = "/mine/ca.pem", CertFile = tls.ClientCertFile, KeyFile = tls.ClientKeyFile };

        var (planned, request) = K3dEngineService.PlanClientCertificate(target, etcd, "topgun", callerGaveCertificate: false, callerGaveCa: false);
        Assert.NotNull(request);
        Assert.Equal(K3sClientCertificate.Files("/tls/etcd", "topgun"), request!.Files);
        Assert.Equal((request.Files[0], request.Files[1], request.Files[2]), (planned.CertFile, planned.KeyFile, planned.CaFile));
        Assert.StartsWith(Path.Combine("/tls/etcd", "k3d", "topgun"), planned.CertFile);

        var (withCa, _) = K3dEngineService.PlanClientCertificate(target, etcd, "topgun", callerGaveCertificate: false, callerGaveCa: true);
        Assert.Equal("/mine/ca.pem", withCa.CaFile);

        var (own, none) = K3dEngineService.PlanClientCertificate(target, etcd, "topgun", callerGaveCertificate: true, callerGaveCa: false);
        Assert.Null(none);
        Assert.Same(target, own);

        var (plain, noTls) = K3dEngineService.PlanClientCertificate(target, new EtcdCluster { Name = "plain" }, "topgun", false, false);
        Assert.Null(noTls);
        Assert.Same(target, plain);
    }

    [Fact]
    public async Task A_failed_create_removes_the_certificate_it_issued_and_a_removal_takes_certificate_and_datastore()
    {
        var etcd = await fx.Service().CreateAsync(fx.Spec("k3deng", size: 1) with { Tls = true }, CancellationToken.None);
        try
        {
            // A create that k3d refuses: the certificate issued for it is gone again, the etcd cluster stays.
            using (var failing = new FakeK3dHarness())
            {
                failing.Environment["FAKE_K3D_FAIL_CREATE"] = "norollback";
                var name = K3dName("engfail");
                var (target, request) = K3dEngineService.PlanClientCertificate(Target(etcd), etcd, name, false, false);
                var failingEngine = Engine(await failing.ServiceAsync());
                var ex = await Assert.ThrowsAsync<K3dEtcdException>(() =>
                    failingEngine.CreateAsync(Spec(name, target), new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, request, CancellationToken.None));
                Assert.Equal("K3dCreateFailed", ex.ErrorId);
                Assert.All(request!.Files, f => Assert.False(File.Exists(f), $"{f} was left after the failed create"));
                Assert.False(Directory.Exists(K3sClientCertificate.DirectoryFor(etcd.Tls!.Directory, name)));
                Assert.NotNull(await fx.Service().GetAsync(etcd.Name, CancellationToken.None));
            }

            // A create that works leaves the three files; removing the cluster with its datastore takes both.
            using var fake = new FakeK3dHarness();
            var ok = K3dName("engok");
            var (okTarget, okRequest) = K3dEngineService.PlanClientCertificate(Target(etcd), etcd, ok, false, false);
            var engine = Engine(await fake.ServiceAsync());
            var (info, _) = await engine.CreateAsync(Spec(ok, okTarget), new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, okRequest, CancellationToken.None);
            Assert.NotNull(info);
            Assert.All(okRequest!.Files, f => Assert.True(File.Exists(f), $"{f} was not issued"));

            var removal = await engine.RemoveAsync(info!, includeDatastore: true, keepClientCertificate: false, CancellationToken.None);
            Assert.Equal(okRequest.Files.Order(), removal.RemovedFiles.Order());
            Assert.NotNull(removal.Datastore);
            Assert.Null(await engine.K3d.GetAsync(ok, CancellationToken.None));
            Assert.Null(await fx.Service().GetAsync(etcd.Name, CancellationToken.None));
        }
        finally
        {
            if (await fx.Service().GetAsync(etcd.Name, CancellationToken.None) is not null)
                await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }
}

// Long because: the browser cases share one chromium driver and one pair of clusters (plain and TLS); splitting the file would start them again.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using K3dEtcd.Browser;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace K3dEtcd.Tests;

/// <summary>
/// The etcd browser in a real browser: Debian's chromium driven by chromedriver (both from apt,
/// nothing downloaded), against real etcd clusters in Docker, with keys written by Set-EtcdKey in
/// a real pwsh and by etcdctl. Screenshots go to out/test-results/ for a person to look at.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdBrowserTests(DockerFixture fx) : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;
    private readonly List<string> _created = [];

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>A fresh cluster per test (each test sees only its own keys), removed after it.</summary>
    private async Task<EtcdCluster> NewClusterAsync(string stem, int size = 1, bool tls = false)
    {
        var spec = fx.Spec($"{stem}{_created.Count}", size) with { Tls = tls };
        _created.Add(spec.Name);
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        _cluster = cluster;
        return cluster;
    }

    public async Task DisposeAsync()
    {
        foreach (var name in _created) await fx.Service().RemoveAsync(name, keepData: false, CancellationToken.None);
    }

    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "K3dEtcd.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException("The repository root (K3dEtcd.sln) was not found above the test binaries.");
        }
    }

    private static string ResultsDirectory => Directory.CreateDirectory(Path.Combine(RepoRoot, "out", "test-results")).FullName;

    internal static EtcdBrowserServer StartServer(EtcdCluster cluster, bool allowWrite = false) =>
        EtcdBrowserServer.Start(EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster)), new EtcdBrowserOptions
        {
            ClusterName = cluster.Name,
            AllowWrite = allowWrite,
            HostEndpoints = cluster.Members.ToDictionary(m => m.Name, m => m.ClientUrl),
        });

    internal static ChromeDriver NewChrome(params string[] extraArguments)
    {
        // Selenium must not fetch a driver or a browser: both come from Debian's packages.
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        Assert.True(File.Exists("/usr/bin/chromium") && File.Exists("/usr/bin/chromedriver"),
            "The browser tests need Debian's chromium and chromium-driver (tests/prepare-docker.sh installs them).");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,950", "--no-first-run");
        options.AddArguments(extraArguments);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    internal static void Screenshot(ChromeDriver driver, string name) =>
        driver.GetScreenshot().SaveAsFile(Path.Combine(ResultsDirectory, $"browser-{name}.png"));

    internal static T WaitFor<T>(IWebDriver driver, Func<IWebDriver, T> condition, double seconds = 10, string? what = null)
    {
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(seconds)) { PollingInterval = TimeSpan.FromMilliseconds(20) };
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException), typeof(NoSuchElementException));
        wait.Message = what;
        return wait.Until(condition);
    }

    /// <summary>The full keys of every tree row on the page.</summary>
    internal static List<string> TreeKeys(IWebDriver driver) =>
        ((IReadOnlyCollection<object>)((IJavaScriptExecutor)driver).ExecuteScript(
            "return [...document.querySelectorAll('#tree .row[data-key]')].map(r => r.dataset.key);")!).Cast<string>().ToList();

    internal static IWebElement Row(IWebDriver driver, string key) =>
        (IWebElement)((IJavaScriptExecutor)driver).ExecuteScript(
            "return [...document.querySelectorAll('#tree .row[data-key]')].find(r => r.dataset.key === arguments[0]) || null;", key)!
        ?? throw new NoSuchElementException($"no row for {key}");

    /// <summary>Stamps window.__seen["tree:KEY"] / ["feed:KEY"] with Date.now() when a row for KEY appears.</summary>
    internal const string SeenRowsObserver = """
        window.__seen = {};
        new MutationObserver((records) => {
          const now = Date.now();
          for (const r of records) for (const n of r.addedNodes) {
            if (!(n instanceof Element)) continue;
            for (const row of [n, ...n.querySelectorAll('[data-key]')]) {
              if (!row.dataset || row.dataset.key === undefined) continue;
              const where = row.closest('#feed') ? 'feed:' : 'tree:';
              if (!window.__seen[where + row.dataset.key]) window.__seen[where + row.dataset.key] = now;
            }
          }
        }).observe(document.body, { childList: true, subtree: true });
        """;

    /// <summary>Opens a folder row unless it is open already (single folders open by themselves).</summary>
    internal static void Expand(IWebDriver driver, string folder)
    {
        var row = WaitFor(driver, d => Row(d, folder), what: folder);
        if (row.GetAttribute("aria-expanded") != "true") row.Click();
        WaitFor(driver, d => Row(d, folder).GetAttribute("aria-expanded") == "true", what: $"{folder} to open");
    }

    internal static void OpenPage(ChromeDriver driver, EtcdBrowserServer server)
    {
        driver.Navigate().GoToUrl(server.Url);
        WaitFor(driver, d => d.FindElement(By.TagName("body")).GetAttribute("data-tree-ready") == "1", 15, "the tree to load");
        // The token went into a cookie and out of the address bar.
        Assert.Equal(server.BaseUrl, driver.Url);
    }

    /// <summary>Runs Set-EtcdKey in a fresh pwsh that imports the staged module, as a user does.</summary>
    private static void SetEtcdKeyInPwsh(EtcdCluster cluster, params string[] keys)
    {
        var manifest = Directory.GetFiles(Path.Combine(RepoRoot, "out", "K3dEtcd"), "K3dEtcd.psd1", SearchOption.AllDirectories).Single();
        var script = new StringBuilder($"$ErrorActionPreference='Stop'; Import-Module '{manifest}'; ");
        foreach (var k in keys) script.Append($"Set-EtcdKey -Endpoint '{cluster.Endpoints[0]}' -Key '{k}' -Value 'from pwsh' | Out-Null; ");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script.ToString() }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "pwsh Set-EtcdKey did not finish");
        Assert.True(p.ExitCode == 0, $"pwsh Set-EtcdKey failed: {output.Result}{error.Result}");
    }

    private (int ExitCode, string Output) Etcdctl(params string[] args) =>
        Cli.Run("etcdctl", ["--endpoints", _cluster.Endpoints[0], .. args]);

    [Fact]
    public async Task Keys_written_by_Set_EtcdKey_show_in_the_tree_and_a_later_put_shows_without_reload()
    {
        await NewClusterAsync("brlive", size: 3);
        SetEtcdKeyInPwsh(_cluster, "/apps/web/config", "/apps/web/replicas", "/apps/db/url");
        await using var server = StartServer(_cluster);
        using var driver = NewChrome();
        OpenPage(driver, server);

        // "/" and then "apps/" open by themselves (single folders); counts come from etcd.
        WaitFor(driver, d => TreeKeys(d).Contains("/apps/"), what: "the /apps/ folder");
        // The folder's own count element, exactly what etcdctl counts under it (not "a 3 somewhere in the row").
        var (countExit, countJson) = Etcdctl("get", "/apps/", "--prefix", "--keys-only", "-w", "json"); // (3.4 has no --count-only)
        Assert.Equal(0, countExit);
        var etcdctlCount = JsonDocument.Parse(countJson).RootElement.GetProperty("count").GetInt64();
        Assert.Equal(3, etcdctlCount);
        Assert.Equal(etcdctlCount.ToString(System.Globalization.CultureInfo.InvariantCulture), Row(driver, "/apps/").FindElement(By.CssSelector(".count")).Text);
        Expand(driver, "/apps/");
        Expand(driver, "/apps/web/");
        WaitFor(driver, d => TreeKeys(d).Contains("/apps/web/config") && TreeKeys(d).Contains("/apps/web/replicas"), what: "the keys Set-EtcdKey wrote");

        // A put after the page opened: the tree and the activity feed show it without a reload.
        // Times are taken in the browser (a MutationObserver stamps each new row) against the
        // moment just before the put, on the same clock.
        var js = (IJavaScriptExecutor)driver;
        var navigationBefore = js.ExecuteScript("return performance.timeOrigin;");
        js.ExecuteScript(SeenRowsObserver);
        // Three puts, each seen in the tree and the feed (how fast is bench/browser.ps1's "put to page", not a test's).
        var samples = new List<(long Tree, long Feed, long Put)>();
        using (var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(_cluster)))
        {
            var keys = new EtcdKeyService(connection);
            await keys.CountAsync(new EtcdKeyQuery(), CancellationToken.None); // connected before the clock starts
            foreach (var name in new[] { "added-later", "added-later-2", "added-later-3" })
            {
                var key = "/apps/web/" + name;
                var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await keys.PutBatchAsync([new EtcdPut(key, "hello"u8.ToArray())], CancellationToken.None);
                var putMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - before;
                var treeAt = WaitFor(driver, _ => js.ExecuteScript($"return window.__seen['tree:{key}'] || null;"), what: $"{key} in the tree");
                var feedAt = WaitFor(driver, _ => js.ExecuteScript($"return window.__seen['feed:{key}'] || null;"), what: $"{key} in the feed");
                samples.Add((Convert.ToInt64(treeAt) - before, Convert.ToInt64(feedAt) - before, putMs));
                await Task.Delay(200);
            }
        }
        Assert.All(samples, x => Assert.True(x.Tree >= 0 && x.Feed >= 0, "a row stamped before its put: " + string.Join("; ", samples)));
        Assert.Equal(navigationBefore, js.ExecuteScript("return performance.timeOrigin;")); // no reload

        // The detail pane: value and revisions, with the earlier value still there.
        Assert.Equal(0, Etcdctl("put", "/apps/web/added-later", "hello again").ExitCode);
        Row(driver, "/apps/web/added-later").Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector("pre.value")).Text == "hello again", what: "the value");
        WaitFor(driver, d => d.FindElements(By.CssSelector(".history li")).Count == 2, what: "two revisions");
        driver.FindElements(By.CssSelector(".history li"))[1].Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector("pre.value")).Text == "hello", what: "the earlier value");

        // The cluster panel: three members, one leader, follower latency.
        WaitFor(driver, d => d.FindElements(By.CssSelector("#members tr")).Count == 4, what: "three members");
        Assert.Single(driver.FindElements(By.CssSelector("#members-pic .member.leader")));
        Assert.Contains("leader", driver.FindElement(By.Id("members")).Text);
        WaitFor(driver, d => d.FindElements(By.CssSelector("#followers tr")).Count == 3, what: "two followers");
        Screenshot(driver, "live");
    }

    [Fact]
    public async Task A_protobuf_namespace_under_registry_shows_kind_Namespace_and_its_fields()
    {
        await NewClusterAsync("brk8s");
        using (var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(_cluster)))
        {
            var keys = new EtcdKeyService(connection);
            await keys.PutBatchAsync([
                new EtcdPut("/registry/namespaces/default", KubernetesProtobuf.Namespace("default", "6c0d1c59-2f3b-4c1e-8d4c-0c8a4f3e8e01")),
                new EtcdPut("/registry/namespaces/kube-system", KubernetesProtobuf.Namespace("kube-system", "0a6f4b3e-74c9-4a57-9a3c-6b0a1f0b8c22")),
                new EtcdPut("/registry/configmaps/default/settings", Encoding.UTF8.GetBytes("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"settings\"},\"data\":{\"a\":\"1\"}}")),
            ], CancellationToken.None);
        }
        await using var server = StartServer(_cluster);
        using var driver = NewChrome();
        OpenPage(driver, server);

        WaitFor(driver, d => TreeKeys(d).Contains("/registry/namespaces/"), what: "the namespaces resource");
        Assert.Contains("resource", Row(driver, "/registry/namespaces/").Text);
        Expand(driver, "/registry/namespaces/");
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/namespaces/default"), what: "the default namespace");
        var row = Row(driver, "/registry/namespaces/default");
        Assert.Contains("Namespace", row.Text);
        Assert.Contains("v1", row.Text);

        row.Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector(".k8s .kind")).Text == "Kind Namespace", what: "Kind Namespace in the detail");
        var fields = driver.FindElement(By.CssSelector("pre.value")).Text;
        Assert.Contains("1 metadata {", fields);
        Assert.Contains("1 name: \"default\"", fields);
        Assert.Contains("5 uid: \"6c0d1c59-2f3b-4c1e-8d4c-0c8a4f3e8e01\"", fields);
        Assert.Contains("\"Active\"", fields);
        Screenshot(driver, "namespace");

        // A JSON object (a custom resource, here a ConfigMap written as JSON) is shown indented.
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/configmaps/"), what: "configmaps");
        Expand(driver, "/registry/configmaps/");
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/configmaps/default/"), what: "the default namespace folder");
        Assert.Contains("namespace", Row(driver, "/registry/configmaps/default/").Text);
        Expand(driver, "/registry/configmaps/default/");
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/configmaps/default/settings"), what: "the config map");
        Row(driver, "/registry/configmaps/default/settings").Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector(".k8s .kind")).Text == "Kind ConfigMap", what: "Kind ConfigMap");
        Assert.Contains("\n  \"apiVersion\": \"v1\",", driver.FindElement(By.CssSelector("pre.value")).Text);
    }

    [Fact]
    public async Task A_cluster_with_k3s_like_data_is_grouped_by_resource_and_namespace_with_kinds_and_a_live_feed()
    {
        var cluster = await NewClusterAsync("brk3s", size: 3);
        var objects = new List<EtcdPut>();
        var n = 0;
        string Uid() => $"00000000-0000-4000-8000-{++n:000000000000}";
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            objects.Add(new EtcdPut($"/registry/namespaces/{ns}", KubernetesProtobuf.Namespace(ns, Uid())));
            objects.Add(new EtcdPut($"/registry/configmaps/{ns}/kube-root-ca.crt", KubernetesProtobuf.Object("v1", "ConfigMap", "kube-root-ca.crt", ns, Uid())));
            objects.Add(new EtcdPut($"/registry/serviceaccounts/{ns}/default", KubernetesProtobuf.Object("v1", "ServiceAccount", "default", ns, Uid())));
        }
        foreach (var pod in new[] { "coredns-7b98449c4-x2v8q", "local-path-provisioner-595dcfc56f-6kq9z", "metrics-server-cdcc87586-hv2jw", "svclb-traefik-4f2a1e3c-8mzl5", "traefik-d7c9c5778-qp4wd" })
        {
            objects.Add(new EtcdPut($"/registry/pods/kube-system/{pod}", KubernetesProtobuf.Object("v1", "Pod", pod, "kube-system", Uid(), ("k8s-app", pod.Split('-')[0]))));
        }
        foreach (var d in new[] { "coredns", "local-path-provisioner", "metrics-server", "traefik" })
        {
            objects.Add(new EtcdPut($"/registry/deployments/kube-system/{d}", KubernetesProtobuf.Object("apps/v1", "Deployment", d, "kube-system", Uid())));
            objects.Add(new EtcdPut($"/registry/services/specs/kube-system/{d}", KubernetesProtobuf.Object("v1", "Service", d, "kube-system", Uid())));
        }
        foreach (var api in new[] { "v1.", "v1.apps", "v1.batch", "v1.networking.k8s.io", "v1beta1.metrics.k8s.io" })
        {
            objects.Add(new EtcdPut($"/registry/apiregistration.k8s.io/apiservices/{api}", KubernetesProtobuf.Object("apiregistration.k8s.io/v1", "APIService", api, null, Uid())));
        }
        objects.Add(new EtcdPut("/registry/traefik.io/middlewares/default/strip", Encoding.UTF8.GetBytes("{\"apiVersion\":\"traefik.io/v1alpha1\",\"kind\":\"Middleware\",\"metadata\":{\"name\":\"strip\",\"namespace\":\"default\"},\"spec\":{\"stripPrefix\":{\"prefixes\":[\"/api\"]}}}")));
        objects.Add(new EtcdPut("/registry/leases/kube-node-lease/k3d-topgun-server-0", KubernetesProtobuf.Object("coordination.k8s.io/v1", "Lease", "k3d-topgun-server-0", "kube-node-lease", Uid())));
        objects.Add(new EtcdPut("/registry/minions/k3d-topgun-server-0", KubernetesProtobuf.Object("v1", "Node", "k3d-topgun-server-0", null, Uid())));
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster));
        var keys = new EtcdKeyService(connection);
        await keys.PutBatchAsync(objects, CancellationToken.None);

        await using var server = StartServer(cluster);
        using var driver = NewChrome();
        OpenPage(driver, server);
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/pods/"), what: "the resources");
        Assert.Contains("group", Row(driver, "/registry/apiregistration.k8s.io/").Text);
        Expand(driver, "/registry/apiregistration.k8s.io/");
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/apiregistration.k8s.io/apiservices/"), what: "apiservices");
        Assert.Contains("resource", Row(driver, "/registry/apiregistration.k8s.io/apiservices/").Text);
        Expand(driver, "/registry/pods/");
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/pods/kube-system/"), what: "kube-system");
        Assert.Contains("namespace", Row(driver, "/registry/pods/kube-system/").Text);
        Assert.Contains("5", Row(driver, "/registry/pods/kube-system/").Text);
        Expand(driver, "/registry/pods/kube-system/");
        var coredns = "/registry/pods/kube-system/coredns-7b98449c4-x2v8q";
        WaitFor(driver, d => TreeKeys(d).Contains(coredns), what: "the coredns pod");
        Assert.Contains("Pod", Row(driver, coredns).Text);

        // k3s renews its node lease and writes events all the time: the feed shows that as it happens.
        for (var i = 0; i < 6; i++)
        {
            await keys.PutBatchAsync([new EtcdPut("/registry/leases/kube-node-lease/k3d-topgun-server-0", KubernetesProtobuf.Object("coordination.k8s.io/v1", "Lease", "k3d-topgun-server-0", "kube-node-lease", "lease-uid"))], CancellationToken.None);
            await keys.PutBatchAsync([new EtcdPut($"/registry/events/kube-system/coredns.{i:x4}", KubernetesProtobuf.Object("v1", "Event", $"coredns.{i:x4}", "kube-system", Uid()))], CancellationToken.None);
            await Task.Delay(100);
        }
        await keys.DeleteBatchAsync([new EtcdKeyService.EtcdDelete("/registry/events/kube-system/coredns.0000", false)], false, CancellationToken.None);
        WaitFor(driver, d => d.FindElements(By.CssSelector("#feed li")).Count == 13, what: "13 changes in the feed");
        Assert.Equal("delete", driver.FindElement(By.CssSelector("#feed li .type")).Text);
        WaitFor(driver, d => TreeKeys(d).Contains("/registry/events/"), what: "the new events resource in the tree");

        Row(driver, coredns).Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector(".k8s .kind")).Text == "Kind Pod", what: "Kind Pod");
        Assert.Contains("3 namespace: \"kube-system\"", driver.FindElement(By.CssSelector("pre.value")).Text);
        WaitFor(driver, d => d.FindElements(By.CssSelector("#followers tr")).Count == 3, what: "the followers' latency");
        Screenshot(driver, "k3s");
    }

    [Fact]
    public async Task A_key_made_of_markup_renders_as_text_and_runs_nothing()
    {
        const string evilKey = "<img src=x onerror=alert(1)>";
        const string evilValue = "<script>window.__pwned = 2</script><img src=y onerror=\"window.__pwned = 3\">";
        await NewClusterAsync("brxss");
        Assert.Equal(0, Etcdctl("put", evilKey, evilValue).ExitCode);
        Assert.Equal(0, Etcdctl("put", "/x/" + evilKey, evilValue).ExitCode);
        await using var server = StartServer(_cluster);
        using var driver = NewChrome();
        OpenPage(driver, server);

        WaitFor(driver, d => TreeKeys(d).Contains(evilKey), what: "the markup key as a root row");
        var row = Row(driver, evilKey);
        Assert.Equal(evilKey, row.FindElement(By.CssSelector(".name")).Text);
        row.Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector("pre.value")).Text == evilValue, what: "the markup value as text");
        Assert.Equal(evilKey, driver.FindElement(By.CssSelector("#detail h2")).Text);
        // A put while the page is open goes through the live path (feed) as well.
        Assert.Equal(0, Etcdctl("put", evilKey, evilValue + "!").ExitCode);
        WaitFor(driver, d => d.FindElements(By.CssSelector("#feed li .key")).Any(k => k.Text == evilKey), what: "the feed entry as text");
        await Task.Delay(500);

        // The nested key renders as text too: its row's name is the markup itself, nothing made of it.
        Expand(driver, "/"); // two roots ("/" and the markup key), so "/" does not open by itself
        Expand(driver, "/x/");
        WaitFor(driver, d => TreeKeys(d).Contains("/x/" + evilKey), what: "the nested markup key");
        var nested = Row(driver, "/x/" + evilKey);
        Assert.Equal(evilKey, nested.FindElement(By.CssSelector(".name")).Text);
        Assert.Empty(nested.FindElements(By.CssSelector("img, script")));
        nested.Click();
        WaitFor(driver, d => d.FindElement(By.CssSelector("#detail h2")).Text == "/x/" + evilKey, what: "the nested key's detail as text");
        Assert.Equal(evilValue, driver.FindElement(By.CssSelector("pre.value")).Text);

        // (No alert and no __pwned cannot fail here: the CSP already blocks inline handlers, and its own test checks that.)
        Assert.Throws<NoAlertPresentException>(() => driver.SwitchTo().Alert());
        var js = (IJavaScriptExecutor)driver;
        Assert.Null(js.ExecuteScript("return window.__pwned === undefined ? null : window.__pwned;"));
        // Nothing from etcd became an element: the only images and scripts are the page's own.
        Assert.Equal(0L, js.ExecuteScript("return document.querySelectorAll('#tree img, #detail img, #feed img, #detail script, #feed script, #tree script').length;"));
        Screenshot(driver, "markup");
    }

    [Fact]
    public async Task With_AllowWrite_the_page_puts_and_deletes_after_confirmation_and_read_only_has_no_buttons()
    {
        await NewClusterAsync("brrw");
        Assert.Equal(0, Etcdctl("put", "/rw/doomed", "bye").ExitCode);
        await using (var readOnly = StartServer(_cluster))
        using (var driver = NewChrome())
        {
            OpenPage(driver, readOnly);
            Assert.False(driver.FindElement(By.Id("new-key")).Displayed);
            Assert.Equal("read-only", driver.FindElement(By.Id("mode")).Text);
        }

        await using var server = StartServer(_cluster, allowWrite: true);
        using var chrome = NewChrome();
        OpenPage(chrome, server);
        WaitFor(chrome, d => TreeKeys(d).Contains("/rw/"), what: "/rw/");
        Expand(chrome, "/rw/");
        WaitFor(chrome, d => TreeKeys(d).Contains("/rw/doomed"), what: "/rw/doomed");
        Row(chrome, "/rw/doomed").Click();
        WaitFor(chrome, d => d.FindElement(By.Id("delete-key")).Displayed, what: "the delete button");

        // Dismissed: nothing happens.
        chrome.FindElement(By.Id("delete-key")).Click();
        WaitFor(chrome, d => d.SwitchTo().Alert()).Dismiss();
        await Task.Delay(300);
        Assert.Contains("bye", Etcdctl("get", "/rw/doomed").Output);

        // Accepted: etcd no longer has the key (checked with etcdctl).
        chrome.FindElement(By.Id("delete-key")).Click();
        WaitFor(chrome, d => d.SwitchTo().Alert()).Accept();
        WaitFor(chrome, _ => Etcdctl("get", "/rw/doomed").Output.Trim() == "", what: "the key to be deleted");

        // Put through the dialog.
        chrome.FindElement(By.Id("new-key")).Click();
        chrome.FindElement(By.Id("edit-key")).SendKeys("/rw/made-in-page");
        chrome.FindElement(By.Id("edit-value")).SendKeys("typed");
        chrome.FindElement(By.Id("edit-save")).Click();
        WaitFor(chrome, d => d.SwitchTo().Alert()).Accept();
        WaitFor(chrome, _ => Etcdctl("get", "/rw/made-in-page", "--print-value-only").Output.Trim() == "typed", what: "the put");
    }

    [Fact]
    public async Task A_tls_cluster_is_browsed_with_its_client_certificate()
    {
        var cluster = await NewClusterAsync("brtls", tls: true);
        {
            var tls = cluster.Tls!;
            var put = Cli.Run("etcdctl", "--endpoints", cluster.Endpoints[0], "--cacert", tls.CaFile, "--cert", tls.ClientCertFile, "--key", tls.ClientKeyFile, "put", "/secure/hello", "over tls");
            Assert.True(put.ExitCode == 0, put.Output);
            await using var server = StartServer(cluster);
            using var driver = NewChrome();
            OpenPage(driver, server);
            WaitFor(driver, d => TreeKeys(d).Contains("/secure/hello"), what: "the key of the TLS cluster");
            Row(driver, "/secure/hello").Click();
            WaitFor(driver, d => d.FindElement(By.CssSelector("pre.value")).Text == "over tls", what: "its value");
            WaitFor(driver, d => d.FindElements(By.CssSelector("#members tr")).Count == 2, what: "the member");
            // The page never carries the TLS material: no PEM in anything the server sent.
            var source = driver.PageSource;
            Assert.DoesNotContain("PRIVATE KEY", source);
            Assert.DoesNotContain("BEGIN", source);
            Screenshot(driver, "tls");
        }
    }
}

/// <summary>Kubernetes values as kube-apiserver stores them: "k8s\0" + runtime.Unknown in protobuf.</summary>
internal static class KubernetesProtobuf
{
    /// <summary>Any object: TypeMeta in the envelope, ObjectMeta (name, namespace, uid, labels) as field 1 of the object.</summary>
    public static byte[] Object(string apiVersion, string kind, string name, string? ns, string uid, params (string Key, string Value)[] labels)
    {
        var metaFields = new List<byte[]> { Bytes(1, name) };
        if (ns is not null) metaFields.Add(Bytes(3, ns));
        metaFields.Add(Bytes(5, uid));
        metaFields.Add(Bytes(6, "1234"));
        metaFields.Add(Field(8, Message(Varint(1, 1_764_400_000))));
        foreach (var (k, v) in labels) metaFields.Add(Field(11, Message(Bytes(1, k), Bytes(2, v))));
        var raw = Message(Field(1, Message([.. metaFields])), Field(2, Message(Bytes(1, "spec of " + name))), Field(3, Message(Bytes(1, "Running"))));
        var unknown = Message(Field(1, Message(Bytes(1, apiVersion), Bytes(2, kind))), Field(2, raw), Bytes(3, ""), Bytes(4, ""));
        return [.. "k8s\0"u8.ToArray(), .. unknown];
    }

    public static byte[] Namespace(string name, string uid)
    {
        var creation = Message(Varint(1, 1_700_000_000));
        var labels = Message(Bytes(1, "kubernetes.io/metadata.name"), Bytes(2, name));
        var metadata = Message(Bytes(1, name), Bytes(5, uid), Bytes(6, "42"), Field(8, creation), Field(11, labels));
        var spec = Message(Bytes(1, "kubernetes"));
        var status = Message(Bytes(1, "Active"));
        var raw = Message(Field(1, metadata), Field(2, spec), Field(3, status));
        var typeMeta = Message(Bytes(1, "v1"), Bytes(2, "Namespace"));
        var unknown = Message(Field(1, typeMeta), Field(2, raw), Bytes(3, ""), Bytes(4, ""));
        return [.. "k8s\0"u8.ToArray(), .. unknown];
    }

    private static byte[] Message(params byte[][] fields) => fields.SelectMany(f => f).ToArray();
    private static byte[] Bytes(int field, string text) => Field(field, Encoding.UTF8.GetBytes(text));
    private static byte[] Field(int field, byte[] bytes) => [.. VarintBytes((ulong)(field << 3 | 2)), .. VarintBytes((ulong)bytes.Length), .. bytes];
    private static byte[] Varint(int field, ulong value) => [.. VarintBytes((ulong)(field << 3)), .. VarintBytes(value)];

    private static byte[] VarintBytes(ulong value)
    {
        var list = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            if (value != 0) b |= 0x80;
            list.Add(b);
        } while (value != 0);
        return [.. list];
    }
}

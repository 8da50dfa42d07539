using K3dEtcd.Data;
using K3dEtcd.Model;
using OpenQA.Selenium;
using static K3dEtcd.Tests.EtcdBrowserTests;

namespace K3dEtcd.Tests;

/// <summary>
/// The tree's counts over many keys, in a real browser: every count shown must be what etcd holds
/// (cross-checked with etcdctl), and must follow puts and deletes without a reload. The server
/// answers folders from listings the watch keeps current, so this also checks that a fresh page
/// load after the changes gets the right numbers from memory.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdBrowserCountsTests(DockerFixture fx) : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await fx.Service().CreateAsync(fx.Spec("brcount", 1), CancellationToken.None);

    public Task DisposeAsync() => fx.Service().RemoveAsync(_cluster.Name, keepData: false, CancellationToken.None);

    /// <summary>Keys under <paramref name="prefix"/> as etcdctl counts them (not our client).</summary>
    private long EtcdctlCount(string prefix)
    {
        var (exit, output) = Cli.Run("etcdctl", "--endpoints", _cluster.Endpoints[0], "get", prefix, "--prefix", "--keys-only");
        Assert.True(exit == 0, output);
        return output.Split('\n').Count(line => line.Trim().Length > 0);
    }

    private static long? ShownCount(IWebDriver driver, string folder)
    {
        var text = (string?)((IJavaScriptExecutor)driver).ExecuteScript(
            "const r = [...document.querySelectorAll('#tree .row[data-key]')].find(r => r.dataset.key === arguments[0]); const c = r && r.querySelector('.count'); return c ? c.textContent : null;", folder);
        var digits = new string((text ?? "").Where(char.IsAsciiDigit).ToArray());
        return digits.Length == 0 ? null : long.Parse(digits);
    }

    /// <summary>Waits until every folder shows etcdctl's count, and still does after the page's debounced re-read.</summary>
    private void AssertCountsMatchEtcdctl(IWebDriver driver, IEnumerable<string> folders)
    {
        var expected = folders.ToDictionary(f => f, EtcdctlCount);
        foreach (var (folder, count) in expected)
        {
            WaitFor(driver, d => ShownCount(d, folder) == count, what: $"{folder} to show {count} (shows {ShownCount(driver, folder)})");
        }
        Thread.Sleep(600); // past the page's 250 ms refresh of changed folders
        foreach (var (folder, count) in expected) Assert.Equal(count, ShownCount(driver, folder));
    }

    [Fact]
    public async Task The_tree_over_many_keys_shows_etcds_counts_and_follows_puts_and_deletes_without_reload()
    {
        // 24,180 keys: 12 resources x 20 namespaces x 100 objects, plus uneven folders and keys.
        var puts = new List<EtcdPut>();
        for (var r = 0; r < 12; r++)
            for (var n = 0; n < 20; n++)
                for (var o = 0; o < 100; o++) puts.Add(new EtcdPut($"/many/res{r:00}/ns-{n:00}/obj-{o:000}", "v"u8.ToArray()));
        for (var i = 0; i < 150; i++) puts.Add(new EtcdPut($"/many/flat/key-{i:000}", "v"u8.ToArray()));
        for (var i = 0; i < 30; i++) puts.Add(new EtcdPut($"/many/leaf-{i:00}", "v"u8.ToArray()));
        using (var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(_cluster)))
        {
            await new EtcdKeyService(connection).PutBatchAsync(puts, CancellationToken.None);
        }
        Assert.Equal(puts.Count, EtcdctlCount("/many/"));

        await using var server = StartServer(_cluster);
        using var driver = NewChrome();
        OpenPage(driver, server);
        // "" and "/" hold one folder each, so "/many/" opens by itself.
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res05/"), what: "the resources under /many/");
        var resources = Enumerable.Range(0, 12).Select(r => $"/many/res{r:00}/").ToList();
        AssertCountsMatchEtcdctl(driver, ["/many/", "/many/flat/", .. resources]);
        Assert.Equal(30, TreeKeys(driver).Count(k => k.StartsWith("/many/leaf-", StringComparison.Ordinal)));
        Expand(driver, "/many/res03/");
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res03/ns-19/"), what: "the namespaces of res03");
        AssertCountsMatchEtcdctl(driver, Enumerable.Range(0, 20).Select(n => $"/many/res03/ns-{n:00}/"));

        var js = (IJavaScriptExecutor)driver;
        var page = js.ExecuteScript("return performance.timeOrigin;");
        // Puts (new keys, an overwrite that must not count) and deletes from another client.
        Assert.Equal(0, Etcdctl("put", "/many/res03/ns-07/obj-new-1", "x"));
        Assert.Equal(0, Etcdctl("put", "/many/res03/ns-07/obj-new-2", "x"));
        Assert.Equal(0, Etcdctl("put", "/many/res03/ns-07/obj-000", "overwritten"));
        Assert.Equal(0, Etcdctl("put", "/many/res03/ns-new/obj", "x"));
        Assert.Equal(0, Etcdctl("put", "/many/res11/ns-00/obj-new", "x"));
        Assert.Equal(0, Etcdctl("del", "/many/res03/ns-08/", "--prefix"));
        Assert.Equal(0, Etcdctl("del", "/many/res05/ns-01/obj-000"));
        WaitFor(driver, d => !TreeKeys(d).Contains("/many/res03/ns-08/"), what: "the deleted namespace to leave the tree");
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res03/ns-new/"), what: "the new namespace in the tree");
        var changed = new[] { "/many/", "/many/res03/", "/many/res05/", "/many/res11/", "/many/res03/ns-07/", "/many/res03/ns-new/" };
        AssertCountsMatchEtcdctl(driver, changed);
        Assert.Equal(24_180 + 4 - 100 - 1, ShownCount(driver, "/many/"));
        Assert.Equal(page, js.ExecuteScript("return performance.timeOrigin;")); // no reload

        // A new page load is answered from the listings the watch kept current: still etcd's numbers.
        OpenPage(driver, server);
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res05/"), what: "the resources after a reload");
        AssertCountsMatchEtcdctl(driver, ["/many/", "/many/flat/", .. resources]);
        Expand(driver, "/many/res03/");
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res03/ns-new/"), what: "res03 after a reload");
        AssertCountsMatchEtcdctl(driver, ["/many/res03/ns-07/", "/many/res03/ns-new/", "/many/res03/ns-09/"]);
        Assert.DoesNotContain("/many/res03/ns-08/", TreeKeys(driver));
        // A folder listed from memory lists the keys etcd has, the new ones included.
        Expand(driver, "/many/res03/ns-07/");
        WaitFor(driver, d => TreeKeys(d).Contains("/many/res03/ns-07/obj-new-2"), what: "the new keys of ns-07");
        Assert.Equal(EtcdctlCount("/many/res03/ns-07/"), TreeKeys(driver).Count(k => k.StartsWith("/many/res03/ns-07/", StringComparison.Ordinal) && k != "/many/res03/ns-07/"));
        Screenshot(driver, "counts");
    }

    private int Etcdctl(params string[] args)
    {
        var (exit, output) = Cli.Run("etcdctl", ["--endpoints", _cluster.Endpoints[0], .. args]);
        Assert.True(exit == 0, output);
        return exit;
    }
}

/// <summary>The request guard and Stop, seen from a real browser rather than from curl.</summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdBrowserGuardTests(DockerFixture fx) : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await fx.Service().CreateAsync(fx.Spec("brguard", 1), CancellationToken.None);

    public Task DisposeAsync() => fx.Service().RemoveAsync(_cluster.Name, keepData: false, CancellationToken.None);

    private static string BodyText(IWebDriver driver) => driver.FindElement(By.TagName("body")).Text;

    [Fact]
    public async Task No_token_a_wrong_token_or_a_foreign_host_name_get_no_page_and_a_stopped_browser_frees_its_port()
    {
        Assert.Equal(0, Cli.Run("etcdctl", "--endpoints", _cluster.Endpoints[0], "put", "/guarded/secret", "s3cret").ExitCode);
        var server = StartServer(_cluster);
        // DNS rebinding as a browser meets it: a foreign name that resolves to 127.0.0.1.
        using var driver = NewChrome("--host-resolver-rules=MAP rebind.test 127.0.0.1");
        try
        {
            driver.Navigate().GoToUrl(server.BaseUrl);
            Assert.Contains("needs its access token", BodyText(driver));
            driver.Navigate().GoToUrl(server.BaseUrl + "api/children?prefix=/guarded/");
            Assert.DoesNotContain("secret", BodyText(driver));
            driver.Navigate().GoToUrl(server.BaseUrl + "?token=wrong");
            Assert.Contains("Wrong access token", BodyText(driver));
            Assert.Empty(driver.Manage().Cookies.AllCookies);

            var foreign = server.Url.Replace("127.0.0.1", "rebind.test", StringComparison.Ordinal);
            driver.Navigate().GoToUrl(foreign);
            // Refused by the listener (its prefix names 127.0.0.1) or by the guard's Host check.
            Assert.Matches("Not Found|only to its own loopback address", BodyText(driver));
            Assert.Empty(driver.Manage().Cookies.AllCookies);
            Assert.Empty(driver.FindElements(By.Id("tree")));
            Assert.NotEqual("etcd browser", driver.Title);

            // The right token on the right address: the page and its tree.
            OpenPage(driver, server);
            WaitFor(driver, d => TreeKeys(d).Contains("/guarded/secret"), what: "the key with the right token");
        }
        finally
        {
            await server.DisposeAsync();
        }

        // Stopped: the page cannot be loaded any more (chromium shows its error page or an empty
        // document, depending on timing) and the port can be bound again.
        string seen;
        try
        {
            driver.Navigate().GoToUrl(server.BaseUrl);
            seen = driver.PageSource;
        }
        catch (WebDriverException ex)
        {
            seen = ex.Message;
        }
        Assert.DoesNotContain("etcd browser", seen);
        Assert.Empty(driver.FindElements(By.Id("tree")));
        Assert.Throws<System.Net.Sockets.SocketException>(() => new System.Net.Sockets.TcpClient().Connect(System.Net.IPAddress.Loopback, server.Port));
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, server.Port);
        probe.Start();
        probe.Stop();
    }
}

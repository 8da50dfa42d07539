using System.Globalization;
using System.Text;
using System.Net;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// The engine's only door to Docker: containers, volumes, networks and images, as thin calls.
/// It knows nothing about etcd (no labels, names, flags or URLs of ours): orchestration in
/// Clusters/ and Members/ decides what to create and passes it in, so a reader sees every Docker
/// call in one file and every etcd decision elsewhere.
/// </summary>
public sealed partial class DockerAdapter(IDockerClient client, IOperationLog log)
{
    public DockerAdapter(DockerConnection docker, IOperationLog log) : this(docker.Client, log)
    {
        EngineIsLocal = docker.EngineIsLocal;
        Engines = docker.Engines;
    }

    /// <summary>True when the engine runs on this machine, so a port free here is free for its bindings.</summary>
    public bool EngineIsLocal { get; } = true;

    /// <summary>The engines of the session (null for an adapter made on a bare client, as tests do).</summary>
    public DockerEngineSet? Engines { get; }

    /// <summary>
    /// The adapter of the engine that holds a member (its engine key, from its labels; null or the
    /// session's key for the session's engine): a member of a cluster spread over several engines
    /// is stopped, started, inspected and removed where it lives, named by the caller, never
    /// guessed from an earlier read.
    /// </summary>
    public async Task<DockerAdapter> ForEngineAsync(string? engine, CancellationToken ct) =>
        string.IsNullOrEmpty(engine) || Engines is not { } engines || engine == engines.SessionKey
            ? this
            : new DockerAdapter(await engines.ConnectAsync(engine, ct).ConfigureAwait(false), log);

    // ---------------------------------------------------------------- containers

    public async Task<IReadOnlyList<ContainerInfo>> ListContainersAsync(IDictionary<string, IDictionary<string, bool>>? filters, CancellationToken ct) =>
        (await Call(() => client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filters }, ct)).ConfigureAwait(false))
            .Select(ToInfo).ToList();

    /// <summary>The names of every container, running or not.</summary>
    public async Task<HashSet<string>> ContainerNamesAsync(CancellationToken ct) =>
        (await Call(() => client.Containers.ListContainersAsync(new ContainersListParameters { All = true }, ct)).ConfigureAwait(false))
            .SelectMany(c => c.Names).Select(n => n.TrimStart('/')).ToHashSet(StringComparer.Ordinal);

    /// <summary>Creates a container (not started); returns its id.</summary>
    public async Task<string> CreateContainerAsync(ContainerSpec spec, CancellationToken ct) =>
        (await Call(() => client.Containers.CreateContainerAsync(ToParameters(spec), ct)).ConfigureAwait(false)).ID;

    public Task StartContainerAsync(string id, CancellationToken ct) =>
        Call(() => client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct));

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    public Task StopContainerAsync(string id, TimeSpan grace, CancellationToken ct) =>
        Call(() => client.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)grace.TotalSeconds }, ct));

    public Task KillContainerAsync(string id, CancellationToken ct) =>
        Call(() => client.Containers.KillContainerAsync(id, new ContainerKillParameters { Signal = "KILL" }, ct));

    /// <summary>Waits for a container to exit; returns its exit code.</summary>
    public async Task<long> WaitContainerAsync(string id, CancellationToken ct) =>
        (await Call(() => client.Containers.WaitContainerAsync(id, ct)).ConfigureAwait(false)).StatusCode;

    public async Task<ContainerDetails> InspectContainerAsync(string id, CancellationToken ct) =>
        ToDetails(await Call(() => client.Containers.InspectContainerAsync(id, ct)).ConfigureAwait(false));

    /// <summary>docker rm -f.</summary>
    public Task RemoveContainerAsync(string id, CancellationToken ct) =>
        Call(() => client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, ct));

    /// <summary>
    /// Runs a throwaway container to its end and returns its exit code and output (docker run --rm);
    /// the container is removed even when the wait times out or the caller cancels. The one way the
    /// engine runs a tool: the image version probe, the datastore probe and snapshot restore.
    /// </summary>
    public async Task<(long ExitCode, string Output)> RunToCompletionAsync(ContainerSpec spec, TimeSpan timeout, CancellationToken ct)
    {
        string? id = null;
        try
        {
            // Not cancelled half way: the engine goes on making a container whose request was cancelled, after
            // any removal by name had found nothing, and it would hold its volumes. Creating is quick; Ctrl+C is seen right after.
            id = await CreateContainerAsync(spec, CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            await StartContainerAsync(id, ct).ConfigureAwait(false);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(timeout);
            var exit = await WaitContainerAsync(id, wait.Token).ConfigureAwait(false);
            return (exit, await ReadLogsAsync(id, null, ct).ConfigureAwait(false));
        }
        finally
        {
            if (id is not null)
            {
                try { await RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false); }
                catch (DockerOperationException ex) { log.Verbose($"Could not remove the throwaway container {id}: {ex.DockerMessage}"); }
            }
        }
    }

    public async Task<string> ReadLogsAsync(string container, int? tail, CancellationToken ct)
    {
        // The multiplexed stream read frame by frame, both targets in the order they came, the bytes
        // joined before decoding: the engine cuts its frames anywhere, even inside a line (or a JSON
        // string or a UTF-8 character), and the library's line-by-line overload reports such a cut
        // as a line of its own. (No container of the module has a TTY, so the stream is multiplexed.)
        using var stream = await Call(() => client.Containers.GetContainerLogsAsync(container, new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Follow = false,
            Tail = tail?.ToString(CultureInfo.InvariantCulture) ?? "all",
        }, ct)).ConfigureAwait(false);
        using var bytes = new MemoryStream();
        var buffer = new byte[1 << 14];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct).ConfigureAwait(false);
            if (read.EOF || read.Count == 0) break;
            bytes.Write(buffer, 0, read.Count);
        }
        var text = Encoding.UTF8.GetString(bytes.GetBuffer(), 0, (int)bytes.Length);
        return string.Join(Environment.NewLine, text.TrimEnd('\n', '\r').Split('\n').Select(l => l.TrimEnd('\r')));
    }

    /// <summary>
    /// The log lines that explain a failure: error-looking lines (a program often prints a bad flag
    /// before pages of usage) and then the last few lines; empty when the logs cannot be read.
    /// </summary>
    public async Task<string> TailLogsAsync(string container, int lines)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var all = (await ReadLogsAsync(container, 200, cts.Token).ConfigureAwait(false)).Split(Environment.NewLine);
            var errors = all.Where(l => ErrorLine().IsMatch(l)).Take(lines);
            var tail = all.Where(l => l.Trim().Length > 0).TakeLast(Math.Max(3, lines / 3));
            return string.Join(Environment.NewLine, errors.Concat(tail).Distinct()).TrimEnd();
        }
        catch (Exception ex) when (ex is DockerOperationException or OperationCanceledException)
        {
            return "";
        }
    }

    [GeneratedRegex(@"error|fatal|panic|flag provided|invalid|cannot|failed", RegexOptions.IgnoreCase)]
    private static partial Regex ErrorLine();

    /// <summary>
    /// Writes files into a created container (docker cp): the engine may be on another host, where a
    /// bind mount of a directory of this machine would find nothing. Keys per <paramref name="files"/>
    /// are paths in the container; values are the content and the file mode.
    /// </summary>
    public async Task CopyFilesToContainerAsync(string id, IReadOnlyDictionary<string, (byte[] Content, UnixFileMode Mode)> files, CancellationToken ct)
    {
        using var tar = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(tar, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var directory in files.Keys.Select(p => Path.GetDirectoryName(p)!.Replace('\\', '/').TrimStart('/')).Distinct(StringComparer.Ordinal))
            {
                writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.Directory, directory + "/") { Mode = (UnixFileMode)0b111_101_101 });
            }
            foreach (var (path, (content, mode)) in files)
            {
                writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, path.TrimStart('/')) { Mode = mode, DataStream = new MemoryStream(content) });
            }
        }
        tar.Position = 0;
        await Call(() => client.Containers.ExtractArchiveToContainerAsync(id, new CopyToContainerParameters { Path = "/" }, tar, ct)).ConfigureAwait(false);
    }

    /// <summary>A new file only its owner can read (Unix mode 600; Windows: the folder's ACLs).</summary>
    private static FileStreamOptions NewOwnerOnlyFile()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    /// <summary>
    /// Copies one file out of a container, running or not (docker cp), to <paramref name="destination"/>,
    /// created owner-only: what is copied (an etcd database) holds secrets.
    /// </summary>
    public async Task CopyFileFromContainerAsync(string id, string path, string destination, CancellationToken ct)
    {
        var archive = await Call(() => client.Containers.GetArchiveFromContainerAsync(id, new ContainerPathStatParameters { Path = path }, statOnly: false, ct)).ConfigureAwait(false);
        var tarPath = destination + ".tar";
        try
        {
            await using (var stream = archive.Stream)
            await using (var tar = new FileStream(tarPath, NewOwnerOnlyFile()))
            {
                var buffer = new byte[1 << 16];
                while (true)
                {
                    int n;
                    // Docker.DotNet's chunked stream throws at the end of the body instead of returning 0.
                    try { n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false); }
                    catch (EndOfStreamException) { break; }
                    if (n == 0) break;
                    await tar.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
            }
            await using var reader = new System.Formats.Tar.TarReader(File.OpenRead(tarPath));
            while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } entry)
            {
                if (entry.EntryType is not (System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                await using var file = new FileStream(destination, NewOwnerOnlyFile());
                await entry.DataStream.CopyToAsync(file, ct).ConfigureAwait(false);
                return;
            }
            throw new K3dEtcdException(ErrorCatalog.SnapshotRestoreFailed, $"{path} in container {id} is not a file.", path);
        }
        catch (EndOfStreamException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotRestoreFailed, $"{path} could not be copied out of container {id}: the archive Docker sent ended early.", path, ex);
        }
        finally
        {
            File.Delete(tarPath);
        }
    }

    // ---------------------------------------------------------------- volumes

    public Task CreateVolumeAsync(string name, IDictionary<string, string> labels, CancellationToken ct) =>
        Call(() => client.Volumes.CreateAsync(new VolumesCreateParameters { Name = name, Labels = labels }, ct));

    public async Task<IReadOnlyList<EngineObject>> ListVolumesAsync(IDictionary<string, IDictionary<string, bool>>? filters, CancellationToken ct) =>
        ((await Call(() => client.Volumes.ListAsync(new VolumesListParameters { Filters = filters }, ct)).ConfigureAwait(false)).Volumes ?? [])
            .Select(v => new EngineObject(v.Name, v.Name, v.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(v.Labels))).ToList();

    public async Task<HashSet<string>> VolumeNamesAsync(CancellationToken ct) =>
        (await ListVolumesAsync(null, ct).ConfigureAwait(false)).Select(v => v.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>docker volume rm -f.</summary>
    public Task RemoveVolumeAsync(string name, CancellationToken ct) => Call(() => client.Volumes.RemoveAsync(name, true, ct));

    // ---------------------------------------------------------------- networks

    public async Task<IReadOnlyList<EngineObject>> ListNetworksAsync(IDictionary<string, IDictionary<string, bool>>? filters, CancellationToken ct) =>
        (await Call(() => client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filters }, ct)).ConfigureAwait(false))
            .Select(n => new EngineObject(n.ID, n.Name, n.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(n.Labels))).ToList();

    /// <summary>A bridge network; returns its id.</summary>
    public async Task<string> CreateNetworkAsync(string name, IDictionary<string, string> labels, CancellationToken ct) =>
        (await Call(() => client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = name, Driver = "bridge", Labels = labels }, ct)).ConfigureAwait(false)).ID;

    public Task DeleteNetworkAsync(string id, CancellationToken ct) => Call(() => client.Networks.DeleteNetworkAsync(id, ct));

    // ---------------------------------------------------------------- images

    public async Task<bool> ImageExistsAsync(string image, CancellationToken ct)
    {
        try
        {
            await client.Images.InspectImageAsync(image, ct).ConfigureAwait(false);
            return true;
        }
        catch (DockerImageNotFoundException) { return false; }
        catch (DockerApiException ex) when (ex.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest) { return false; }
        catch (DockerApiException ex) { throw Translate(ex); }
    }

    /// <summary>docker pull, reporting the layers' progress under <paramref name="activity"/>; then checks the image is there.</summary>
    public async Task PullImageAsync(string image, string activity, CancellationToken ct)
    {
        var (repository, tag) = SplitImage(image);
        await Call(() => client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
            new Progress<JSONMessage>(m => { if (!string.IsNullOrEmpty(m.Status)) log.Progress(new OperationProgress(activity, $"{m.ID} {m.Status}".Trim(), -1, ActivityId: 2)); }),
            ct)).ConfigureAwait(false);
        log.Progress(new OperationProgress(activity, "Done", 100, ActivityId: 2, Completed: true));
        await Call(() => client.Images.InspectImageAsync(image, ct)).ConfigureAwait(false);
    }

    internal static (string Repository, string Tag) SplitImage(string image)
    {
        var at = image.IndexOf('@');
        if (at > 0) return (image[..at], image[(at + 1)..]);
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    // ---------------------------------------------------------------- errors and ports

    /// <summary>Docker's own sentence from an error response (its JSON "message"), else the raw body.</summary>
    internal static string DockerMessage(DockerApiException ex)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(ex.ResponseBody ?? "");
            if (doc.RootElement.TryGetProperty("message", out var m)) return m.GetString() ?? ex.Message;
        }
        catch (System.Text.Json.JsonException) { }
        return string.IsNullOrWhiteSpace(ex.ResponseBody) ? ex.Message : ex.ResponseBody.Trim();
    }

    internal static DockerOperationException Translate(DockerApiException ex) =>
        new(ex.StatusCode, DockerMessage(ex), ex.ResponseBody ?? "", ex is DockerImageNotFoundException, ex);

    private static async Task Call(Func<Task> call)
    {
        try { await call().ConfigureAwait(false); }
        catch (DockerApiException ex) { throw Translate(ex); }
    }

    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try { return await call().ConfigureAwait(false); }
        catch (DockerApiException ex) { throw Translate(ex); }
    }

    /// <summary>
    /// A port that is free on <paramref name="hostAddress"/> now and not handed out yet in this
    /// operation; null when this machine cannot bind that address (Docker then picks).
    /// </summary>
    public static int? PickHostPort(string hostAddress, ISet<int> taken)
    {
        if (!IPAddress.TryParse(hostAddress, out var address)) return null;
        for (var attempt = 0; attempt < 16; attempt++)
        {
            try
            {
                using var probe = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(address, 0));
                var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
                if (taken.Add(port)) return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return null;
            }
        }
        return null;
    }
}

/// <summary>An IProgress that runs its callback inline, so nothing arrives after the call returns.</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

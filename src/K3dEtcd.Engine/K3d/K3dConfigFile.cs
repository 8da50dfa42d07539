using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>
/// The k3d config file that carries the k3s token and the datastore settings: written into a new
/// directory only its owner can enter (0700), as a file only its owner can read (0600), and
/// removed with its directory as soon as k3d has read it, also after a failure or Ctrl+C.
/// </summary>
public static class K3dConfigFile
{
    public const string FileName = "k3d-config.yaml";

    public static (string Directory, string Path) Write(string content)
    {
        string? dir = null;
        try
        {
            // CreateTempSubdirectory makes the directory with mode 0700 on Unix (mkdtemp).
            dir = Directory.CreateTempSubdirectory("k3detcd-").FullName;
            var path = System.IO.Path.Combine(dir, FileName);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(path, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
            }
            return (dir, path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Remove(dir, NullOperationLog.Instance);
            throw new K3dEtcdException(ErrorCatalog.K3dConfigFileFailed, $"The private k3d config file could not be written: {ex.Message}", dir, ex);
        }
    }

    public static void Remove(string? directory, IOperationLog log)
    {
        if (directory is null) return;
        try { Directory.Delete(directory, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Could not remove the private k3d config directory {directory}: {ex.Message}");
        }
    }
}

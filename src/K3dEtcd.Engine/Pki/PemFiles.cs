using System.Text;

namespace K3dEtcd.Pki;

/// <summary>Writes PEM files; private keys are owner-only from the moment the file exists.</summary>
public static class PemFiles
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicRead = OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Creates a key file with mode 0600 at creation (never write-then-chmod, which leaves a window
    /// where the key is readable). On Windows the per-user data directory's ACL protects it.
    /// Fails if the file exists.
    /// </summary>
    public static void WritePrivateKey(string path, string pem) => Write(path, pem, OwnerReadWrite);

    public static void WriteCertificate(string path, string pem) => Write(path, pem, PublicRead);

    /// <summary>Creates a directory (and missing parents) readable by its owner only on Unix.</summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, OwnerOnlyDirectory);
    }

    private static void Write(string path, string pem, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        using var stream = new FileStream(path, options);
        var bytes = Encoding.ASCII.GetBytes(pem.EndsWith('\n') ? pem : pem + "\n");
        stream.Write(bytes);
    }
}

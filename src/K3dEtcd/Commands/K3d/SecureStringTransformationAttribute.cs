using System.Management.Automation;
using System.Net;
using System.Security;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// Lets a [SecureString] parameter take plain text too: `-Token $k.Token` (the SecureString
/// New-K3dCluster returns) and `-Token 'abc'` both bind. Without it PowerShell would turn a
/// SecureString bound to a string parameter into the text "System.Security.SecureString".
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class SecureStringTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        switch (value)
        {
            case null:
            case SecureString:
                return value;
            case string s:
                var secure = new SecureString();
                foreach (var c in s) secure.AppendChar(c);
                secure.MakeReadOnly();
                return secure;
            default:
                throw new ArgumentTransformationMetadataException($"A token is a SecureString or a string, not a {value.GetType().Name}.");
        }
    }

    /// <summary>The text to hand to k3d (in its private config file) or to hash for the bootstrap check.</summary>
    internal static string ToPlainText(SecureString value) => new NetworkCredential(string.Empty, value).Password;
}

using System.Net;

namespace K3dEtcd.Docker;

/// <summary>
/// A refusal of the Docker engine, in our own type: callers outside Docker/ catch this, never a
/// Docker.DotNet exception. It keeps Docker's status and its own sentence.
/// </summary>
public sealed class DockerOperationException : Exception
{
    public DockerOperationException(HttpStatusCode statusCode, string dockerMessage, string responseBody, bool imageNotFound, Exception inner)
        : base(dockerMessage, inner)
    {
        StatusCode = statusCode;
        DockerMessage = dockerMessage;
        ResponseBody = responseBody;
        IsImageNotFound = imageNotFound;
    }

    public HttpStatusCode StatusCode { get; }

    /// <summary>Docker's own sentence (its JSON "message"), else the raw body.</summary>
    public string DockerMessage { get; }

    public string ResponseBody { get; }

    public bool IsNotFound => StatusCode == HttpStatusCode.NotFound;

    public bool IsConflict => StatusCode == HttpStatusCode.Conflict;

    /// <summary>The image of a container to create is not on the engine.</summary>
    public bool IsImageNotFound { get; }

    public bool IsPortConflict =>
        ResponseBody.Contains("port is already allocated", StringComparison.OrdinalIgnoreCase)
        || ResponseBody.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    /// <summary>Docker refuses to delete a network that still has containers attached.</summary>
    public bool IsNetworkInUse =>
        StatusCode == HttpStatusCode.Forbidden || ResponseBody.Contains("active endpoints", StringComparison.OrdinalIgnoreCase);

    /// <summary>The command of a container to start is not in its image.</summary>
    public bool IsExecutableNotFound => ResponseBody.Contains("executable file not found", StringComparison.OrdinalIgnoreCase);
}

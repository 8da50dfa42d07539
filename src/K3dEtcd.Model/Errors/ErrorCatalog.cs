using System.Reflection;

namespace K3dEtcd.Common;

/// <summary>
/// How far a failure reaches. <see cref="Item"/>: it concerns one input (a cluster, a member, a
/// key); a cmdlet that processes several reports it as a non-terminating error and goes on with
/// the next. <see cref="Session"/>: it concerns the environment (the Docker engine, the k3d CLI);
/// every later input would fail the same way, so the command ends with a terminating error.
/// </summary>
public enum ErrorScope
{
    Item,
    Session,
}

/// <summary>One ErrorId: its kind (named as the PowerShell ErrorCategory it becomes), scope and meaning.</summary>
public sealed class ErrorDefinition
{
    internal ErrorDefinition(string id, FailureKind kind, ErrorScope scope, string meaning)
    {
        Id = id;
        Kind = kind;
        Scope = scope;
        Meaning = meaning;
    }

    public string Id { get; }
    public FailureKind Kind { get; }
    public ErrorScope Scope { get; }
    public string Meaning { get; }

    public override string ToString() => Id;
}

/// <summary>
/// Every ErrorId the module reports, declared once. Users script on these ids
/// (<c>$_.FullyQualifiedErrorId -like 'ClusterExists,*'</c>), so an id never changes once shipped.
/// Throw sites pass an entry (<c>new K3dEtcdException(ErrorCatalog.ClusterExists, message)</c>); a
/// test fails when code uses an id that is not declared here, and another keeps the list in
/// about_K3dEtcd equal to this one.
/// </summary>
public static class ErrorCatalog
{
    // Docker engine
    public static readonly ErrorDefinition DockerUnreachable = Session(nameof(DockerUnreachable), FailureKind.ConnectionError, "The Docker engine cannot be reached (not running, wrong endpoint, no permission on its socket).");
    public static readonly ErrorDefinition DockerContextNotFound = Item(nameof(DockerContextNotFound), FailureKind.ObjectNotFound, "The Docker context named by DOCKER_CONTEXT or ~/.docker/config.json has no endpoint.");
    public static readonly ErrorDefinition InvalidDockerHost = Item(nameof(InvalidDockerHost), FailureKind.InvalidArgument, "A Docker endpoint (-DockerHost, DOCKER_HOST) is not unix://, npipe:// or tcp://.");
    public static readonly ErrorDefinition DockerObjectNotFound = Item(nameof(DockerObjectNotFound), FailureKind.ObjectNotFound, "Docker reported that a container, volume, network or image does not exist.");
    public static readonly ErrorDefinition DockerConflict = Item(nameof(DockerConflict), FailureKind.ResourceExists, "Docker refused a change because it conflicts with an existing object.");
    public static readonly ErrorDefinition DockerOperationFailed = Item(nameof(DockerOperationFailed), FailureKind.InvalidResult, "Docker refused or failed an operation (the message carries Docker's reason).");
    public static readonly ErrorDefinition ImageNotFound = Item(nameof(ImageNotFound), FailureKind.ObjectNotFound, "The etcd image is not present locally and pulling is disabled (-PullPolicy Never).");
    public static readonly ErrorDefinition ImagePullFailed = Item(nameof(ImagePullFailed), FailureKind.ObjectNotFound, "The etcd image is not present locally and could not be pulled.");
    public static readonly ErrorDefinition ContainerNameInUse = Item(nameof(ContainerNameInUse), FailureKind.ResourceExists, "A container with a member's name exists and was not made by K3dEtcd.");
    public static readonly ErrorDefinition VolumeNameInUse = Item(nameof(VolumeNameInUse), FailureKind.ResourceExists, "A data volume with a member's name exists (left by a cluster removed with -KeepData?).");
    public static readonly ErrorDefinition NetworkNameInUse = Item(nameof(NetworkNameInUse), FailureKind.ResourceExists, "A Docker network with the cluster's network name already exists.");
    public static readonly ErrorDefinition NetworkInUse = Item(nameof(NetworkInUse), FailureKind.ResourceUnavailable, "The cluster's network still has other containers attached (a k3d cluster?), so it was kept.");
    public static readonly ErrorDefinition UnsupportedDockerScheme = Item(nameof(UnsupportedDockerScheme), FailureKind.InvalidArgument, "A Docker endpoint uses a transport K3dEtcd cannot speak (ssh://); use tcp:// with TLS or a forwarded socket.");
    public static readonly ErrorDefinition DockerTlsMaterialMissing = Item(nameof(DockerTlsMaterialMissing), FailureKind.ObjectNotFound, "TLS to a tcp:// Docker engine needs ca.pem, cert.pem and key.pem in the certificate directory (DOCKER_CERT_PATH, -DockerCertPath).");
    public static readonly ErrorDefinition DockerEngineUnreachable = Item(nameof(DockerEngineUnreachable), FailureKind.ConnectionError, "One of a cluster's several Docker engines does not answer; its members cannot be changed (the others still can).");
    public static readonly ErrorDefinition EngineAddressRequired = Item(nameof(EngineAddressRequired), FailureKind.InvalidArgument, "A Docker engine of a multi-engine cluster has no address its peers can use: give it with -AdvertiseAddress.");
    public static readonly ErrorDefinition InvalidEnginePlacement = Item(nameof(InvalidEnginePlacement), FailureKind.InvalidArgument, "-DockerHost and -AdvertiseAddress do not describe a placement (a repeated engine, more addresses than engines, a bad address or port).");

    // etcd clusters in Docker
    public static readonly ErrorDefinition InvalidClusterName = Item(nameof(InvalidClusterName), FailureKind.InvalidArgument, "The cluster name is not 1 to 63 letters, digits, '_', '.' or '-' starting with a letter or digit.");
    public static readonly ErrorDefinition InvalidClusterSize = Item(nameof(InvalidClusterSize), FailureKind.InvalidArgument, "-Size is outside the supported number of members.");
    public static readonly ErrorDefinition InvalidClientPort = Item(nameof(InvalidClientPort), FailureKind.InvalidArgument, "The client ports -ClientPort .. -ClientPort+Size-1 are not all valid TCP ports.");
    public static readonly ErrorDefinition InvalidHostAddress = Item(nameof(InvalidHostAddress), FailureKind.InvalidArgument, "-HostAddress is not an IP address to publish client ports on.");
    public static readonly ErrorDefinition InvalidTimeout = Item(nameof(InvalidTimeout), FailureKind.InvalidArgument, "A timeout is zero or negative.");
    public static readonly ErrorDefinition EnableV2NotSupported = Item(nameof(EnableV2NotSupported), FailureKind.InvalidArgument, "-EnableV2 was given for an etcd version that has no v2 API.");
    public static readonly ErrorDefinition TlsSanWithoutTls = Item(nameof(TlsSanWithoutTls), FailureKind.InvalidArgument, "-TlsSan was given without -Tls.");
    public static readonly ErrorDefinition CertificateValidityWithoutTls = Item(nameof(CertificateValidityWithoutTls), FailureKind.InvalidArgument, "-CertificateValidityDays was given without -Tls.");
    public static readonly ErrorDefinition InvalidCertificateValidity = Item(nameof(InvalidCertificateValidity), FailureKind.InvalidArgument, "-CertificateValidityDays is out of range.");
    public static readonly ErrorDefinition DatastoreInUse = Item(nameof(DatastoreInUse), FailureKind.ResourceUnavailable, "A k3d cluster still uses the etcd cluster as its datastore (its servers carry io.k3detcd.etcd-cluster), so nothing was removed.");
    public static readonly ErrorDefinition ClusterExists = Item(nameof(ClusterExists), FailureKind.ResourceExists, "An etcd cluster with that name already exists.");
    public static readonly ErrorDefinition ClientPortInUse = Item(nameof(ClientPortInUse), FailureKind.ResourceUnavailable, "A member's client port is already taken on the host.");
    public static readonly ErrorDefinition MemberStartFailed = Item(nameof(MemberStartFailed), FailureKind.InvalidResult, "Docker could not start a member's container.");
    public static readonly ErrorDefinition MemberExited = Item(nameof(MemberExited), FailureKind.InvalidResult, "A member's container stopped while the cluster was starting (its log is in the message).");
    public static readonly ErrorDefinition ClusterVanished = Item(nameof(ClusterVanished), FailureKind.InvalidResult, "The cluster's containers disappeared while it was being created.");
    public static readonly ErrorDefinition ClusterStartTimeout = Item(nameof(ClusterStartTimeout), FailureKind.OperationTimeout, "The cluster did not reach a healthy quorum with one leader in time.");
    public static readonly ErrorDefinition ImageVersionProbeTimeout = Item(nameof(ImageVersionProbeTimeout), FailureKind.OperationTimeout, "The throwaway container that reads the etcd image's version (etcd --version) did not finish in time.");

    // Upgrades (Update-EtcdCluster)
    public static readonly ErrorDefinition UpgradeSkipsMinor = Item(nameof(UpgradeSkipsMinor), FailureKind.InvalidArgument, "The target version skips a minor version (or changes the major); etcd upgrades one minor at a time.");
    public static readonly ErrorDefinition UpgradeIsDowngrade = Item(nameof(UpgradeIsDowngrade), FailureKind.InvalidArgument, "The target version is older than the cluster's; only etcd 3.6 -> 3.5 has a supported downgrade, through etcd's downgrade API.");
    public static readonly ErrorDefinition UpgradeNeedsNewerPatch = Item(nameof(UpgradeNeedsNewerPatch), FailureKind.InvalidArgument, "Moving to etcd 3.6 needs every member on the 3.5 patch etcd's upgrade guide requires first.");
    public static readonly ErrorDefinition UpgradeV2Enabled = Item(nameof(UpgradeV2Enabled), FailureKind.InvalidArgument, "The cluster was created with -EnableV2 and etcd 3.6 refuses --enable-v2.");
    public static readonly ErrorDefinition UpgradeVersionUnknown = Item(nameof(UpgradeVersionUnknown), FailureKind.InvalidArgument, "The version of the cluster or of the target image is not known (give -Version, or an image tag that names it).");
    public static readonly ErrorDefinition UpgradeClusterNotReady = Item(nameof(UpgradeClusterNotReady), FailureKind.InvalidOperation, "A member is down, unhealthy or on a third version, so the cluster is not upgraded.");
    public static readonly ErrorDefinition UpgradeMemberFailed = Item(nameof(UpgradeMemberFailed), FailureKind.InvalidResult, "A member did not come up healthy on the new version (or its data differed); it runs its old version again and the upgrade stopped.");
    public static readonly ErrorDefinition EtcdClusterNotFound = Item(nameof(EtcdClusterNotFound), FailureKind.ObjectNotFound, "No etcd cluster with that name carries the Docker label io.k3detcd.cluster.");

    // members
    public static readonly ErrorDefinition EtcdMemberNotFound = Item(nameof(EtcdMemberNotFound), FailureKind.ObjectNotFound, "The cluster has no member with that name.");
    public static readonly ErrorDefinition MemberNotRunning = Item(nameof(MemberNotRunning), FailureKind.InvalidOperation, "The member's container is not running.");
    public static readonly ErrorDefinition MemberStopTimeout = Item(nameof(MemberStopTimeout), FailureKind.OperationTimeout, "A member's container did not stop in time.");
    public static readonly ErrorDefinition MemberCatchUpTimeout = Item(nameof(MemberCatchUpTimeout), FailureKind.OperationTimeout, "A started member did not become healthy and catch up with the leader in time.");
    public static readonly ErrorDefinition MemberPromoteTimeout = Item(nameof(MemberPromoteTimeout), FailureKind.OperationTimeout, "A new learner did not catch up with the leader in time, so it was not promoted.");
    public static readonly ErrorDefinition MembershipChangeRefused = Item(nameof(MembershipChangeRefused), FailureKind.ResourceUnavailable, "etcd kept refusing a membership change (the cluster is unhealthy).");
    public static readonly ErrorDefinition ClusterSizeLimit = Item(nameof(ClusterSizeLimit), FailureKind.InvalidOperation, "The cluster already has the most members this module runs.");
    public static readonly ErrorDefinition LastMember = Item(nameof(LastMember), FailureKind.InvalidOperation, "Removing the last member would remove the cluster's data; nothing was changed.");
    public static readonly ErrorDefinition QuorumLoss = Item(nameof(QuorumLoss), FailureKind.InvalidOperation, "The change would leave fewer running members than a quorum (use -Force to do it anyway).");
    public static readonly ErrorDefinition EtcdClusterDegraded = Item(nameof(EtcdClusterDegraded), FailureKind.InvalidOperation, "Members are stopped, so the membership change could break the quorum.");
    public static readonly ErrorDefinition EtcdClusterStopped = Item(nameof(EtcdClusterStopped), FailureKind.ResourceUnavailable, "No member of the cluster is running, so it has no leader.");
    public static readonly ErrorDefinition EtcdNoLeader = Item(nameof(EtcdNoLeader), FailureKind.ResourceUnavailable, "No member reports a leader: the cluster has lost quorum or is still electing.");
    public static readonly ErrorDefinition FailoverNeedsThreeMembers = Item(nameof(FailoverNeedsThreeMembers), FailureKind.InvalidOperation, "Measure-EtcdFailover needs a cluster of at least three members.");
    public static readonly ErrorDefinition FailoverWriterFailed = Item(nameof(FailoverWriterFailed), FailureKind.InvalidResult, "No write succeeded before the leader was killed.");
    public static readonly ErrorDefinition FailoverWritesDidNotResume = Item(nameof(FailoverWritesDidNotResume), FailureKind.OperationTimeout, "Writes did not succeed again in time after the leader was killed.");

    // the data plane
    public static readonly ErrorDefinition EtcdEndpointMissing = Item(nameof(EtcdEndpointMissing), FailureKind.InvalidArgument, "No etcd endpoint was given.");
    public static readonly ErrorDefinition EtcdEndpointInvalid = Item(nameof(EtcdEndpointInvalid), FailureKind.InvalidArgument, "An endpoint is not an http:// or https:// etcd client URL.");
    public static readonly ErrorDefinition EtcdTimeoutInvalid = Item(nameof(EtcdTimeoutInvalid), FailureKind.InvalidArgument, "The etcd call timeout is zero or negative.");
    public static readonly ErrorDefinition EtcdCredentialIncomplete = Item(nameof(EtcdCredentialIncomplete), FailureKind.InvalidArgument, "-Credential lacks a user name or a password.");
    public static readonly ErrorDefinition EtcdClientCertificateIncomplete = Item(nameof(EtcdClientCertificateIncomplete), FailureKind.InvalidArgument, "Only one of -CertFile and -KeyFile was given.");
    public static readonly ErrorDefinition EtcdTlsFileNotFound = Item(nameof(EtcdTlsFileNotFound), FailureKind.ObjectNotFound, "A -CaFile, -CertFile or -KeyFile does not exist.");
    public static readonly ErrorDefinition EtcdCaFileInvalid = Item(nameof(EtcdCaFileInvalid), FailureKind.InvalidArgument, "The -CaFile holds no PEM certificate.");
    public static readonly ErrorDefinition EtcdClientCertificateInvalid = Item(nameof(EtcdClientCertificateInvalid), FailureKind.InvalidArgument, "The client certificate and key could not be loaded.");
    public static readonly ErrorDefinition EtcdClusterNotRunning = Item(nameof(EtcdClusterNotRunning), FailureKind.ResourceUnavailable, "The cluster has no running member with a published client port.");
    public static readonly ErrorDefinition EtcdUnreachable = Item(nameof(EtcdUnreachable), FailureKind.ConnectionError, "No etcd endpoint answered.");
    public static readonly ErrorDefinition EtcdConnectionBroken = Item(nameof(EtcdConnectionBroken), FailureKind.ConnectionError, "The connection to etcd broke during a call (reset, end of stream, TLS alert).");
    public static readonly ErrorDefinition EtcdTlsHandshakeFailed = Item(nameof(EtcdTlsHandshakeFailed), FailureKind.SecurityError, "The TLS handshake with etcd failed (wrong CA, name or client certificate).");
    public static readonly ErrorDefinition EtcdAccessDenied = Item(nameof(EtcdAccessDenied), FailureKind.SecurityError, "etcd refused the credentials or the client certificate.");
    public static readonly ErrorDefinition EtcdTimeout = Item(nameof(EtcdTimeout), FailureKind.OperationTimeout, "etcd did not answer within the timeout.");
    public static readonly ErrorDefinition EtcdRequestTooLarge = Item(nameof(EtcdRequestTooLarge), FailureKind.LimitsExceeded, "A request is larger than etcd accepts (--max-request-bytes, 1.5 MiB by default).");
    public static readonly ErrorDefinition EtcdClientCertificateRequired = Item(nameof(EtcdClientCertificateRequired), FailureKind.SecurityError, "The etcd server requires a client certificate and none was given (-CertFile and -KeyFile).");
    public static readonly ErrorDefinition OperationTimedOut = Item(nameof(OperationTimedOut), FailureKind.OperationTimeout, "A wait ended without Ctrl+C before the operation finished (the message names what did not answer).");
    public static readonly ErrorDefinition EtcdNotFound = Item(nameof(EtcdNotFound), FailureKind.ObjectNotFound, "etcd reported that something asked for does not exist.");
    public static readonly ErrorDefinition EtcdRequestInvalid = Item(nameof(EtcdRequestInvalid), FailureKind.InvalidArgument, "etcd rejected the request as invalid.");
    public static readonly ErrorDefinition EtcdRequestRejected = Item(nameof(EtcdRequestRejected), FailureKind.InvalidOperation, "etcd rejected the request in its current state (a failed precondition).");
    public static readonly ErrorDefinition EtcdNotImplemented = Item(nameof(EtcdNotImplemented), FailureKind.NotImplemented, "This etcd version does not support the call.");
    public static readonly ErrorDefinition EtcdOperationFailed = Item(nameof(EtcdOperationFailed), FailureKind.InvalidResult, "An etcd call failed for another reason (the message carries etcd's status).");
    public static readonly ErrorDefinition EtcdKeyEmpty = Item(nameof(EtcdKeyEmpty), FailureKind.InvalidArgument, "A key or prefix is empty.");
    public static readonly ErrorDefinition EtcdKeyMissing = Item(nameof(EtcdKeyMissing), FailureKind.InvalidArgument, "-Prefix or -FromKey was given without -Key.");
    public static readonly ErrorDefinition EtcdKeyNotFound = Item(nameof(EtcdKeyNotFound), FailureKind.ObjectNotFound, "The key does not exist.");
    public static readonly ErrorDefinition EtcdRangeConflict = Item(nameof(EtcdRangeConflict), FailureKind.InvalidArgument, "-Prefix and -FromKey were given together.");
    public static readonly ErrorDefinition EtcdLimitInvalid = Item(nameof(EtcdLimitInvalid), FailureKind.InvalidArgument, "-Limit is negative.");
    public static readonly ErrorDefinition EtcdPageSizeInvalid = Item(nameof(EtcdPageSizeInvalid), FailureKind.InvalidArgument, "The page size is zero or negative.");
    public static readonly ErrorDefinition EtcdRevisionInvalid = Item(nameof(EtcdRevisionInvalid), FailureKind.InvalidArgument, "A revision is negative.");
    public static readonly ErrorDefinition EtcdTtlInvalid = Item(nameof(EtcdTtlInvalid), FailureKind.InvalidArgument, "-TtlSeconds is less than one second.");
    public static readonly ErrorDefinition EtcdLeaseConflict = Item(nameof(EtcdLeaseConflict), FailureKind.InvalidArgument, "-Lease and -TtlSeconds were given together.");
    public static readonly ErrorDefinition EtcdLeaseFailed = Item(nameof(EtcdLeaseFailed), FailureKind.InvalidResult, "etcd refused to grant the lease.");
    public static readonly ErrorDefinition EtcdWatchCanceled = Item(nameof(EtcdWatchCanceled), FailureKind.InvalidResult, "etcd cancelled the watch.");
    public static readonly ErrorDefinition EtcdWatchCompacted = Item(nameof(EtcdWatchCompacted), FailureKind.InvalidOperation, "The watch's start revision has been compacted away.");
    public static readonly ErrorDefinition EtcdLeaderUnreachable = Item(nameof(EtcdLeaderUnreachable), FailureKind.ConnectionError, "The leader cannot be reached from this host.");
    public static readonly ErrorDefinition EtcdMetricsUnavailable = Item(nameof(EtcdMetricsUnavailable), FailureKind.ResourceUnavailable, "The leader serves neither /v2/stats/leader nor /metrics.");
    public static readonly ErrorDefinition InvalidHealthWindow = Item(nameof(InvalidHealthWindow), FailureKind.InvalidArgument, "Get-EtcdHealth -Window is not between 1 second and 1 hour.");

    // TLS material
    public static readonly ErrorDefinition TlsDirectoryExists = Item(nameof(TlsDirectoryExists), FailureKind.ResourceExists, "The directory for a cluster's or member's TLS material already exists.");
    public static readonly ErrorDefinition TlsMaterialFailed = Item(nameof(TlsMaterialFailed), FailureKind.ResourceUnavailable, "The cluster's TLS material could not be written.");
    public static readonly ErrorDefinition TlsMaterialInvalid = Item(nameof(TlsMaterialInvalid), FailureKind.InvalidResult, "The cluster's CA or certificates could not be loaded.");
    public static readonly ErrorDefinition TlsMaterialMissing = Item(nameof(TlsMaterialMissing), FailureKind.ObjectNotFound, "The cluster's CA or certificates are missing from its TLS directory.");
    public static readonly ErrorDefinition InvalidTlsSan = Item(nameof(InvalidTlsSan), FailureKind.InvalidArgument, "A -TlsSan is neither an IP address nor a DNS name.");
    public static readonly ErrorDefinition InvalidCommonName = Item(nameof(InvalidCommonName), FailureKind.InvalidArgument, "-CommonName is not a usable certificate common name.");
    public static readonly ErrorDefinition ClusterNotTls = Item(nameof(ClusterNotTls), FailureKind.InvalidOperation, "The cluster serves plain HTTP and has no CA to issue client certificates.");
    public static readonly ErrorDefinition ClientCertificateFileExists = Item(nameof(ClientCertificateFileExists), FailureKind.ResourceExists, "The client certificate files exist already (use -Force to replace them).");
    public static readonly ErrorDefinition ClientCertificateWriteFailed = Item(nameof(ClientCertificateWriteFailed), FailureKind.ResourceUnavailable, "The client certificate could not be written to -OutputDirectory.");
    public static readonly ErrorDefinition CertificateExpired = Item(nameof(CertificateExpired), FailureKind.SecurityError, "A certificate of the cluster has expired: members or clients are refused until Update-EtcdCertificate renews it.");
    public static readonly ErrorDefinition CertificateExpiresSoon = Item(nameof(CertificateExpiresSoon), FailureKind.SecurityError, "A certificate of the cluster expires within 30 days (a warning): renew it with Update-EtcdCertificate.");
    public static readonly ErrorDefinition CertificateRotationIncomplete = Item(nameof(CertificateRotationIncomplete), FailureKind.InvalidOperation, "A CA rotation (Update-EtcdCertificate -Authority) was interrupted between its phases: the cluster trusts the old and the new CA; run Update-EtcdCertificate -Authority again to complete it.");
    public static readonly ErrorDefinition CertificateRenewalFailed = Item(nameof(CertificateRenewalFailed), FailureKind.InvalidResult, "A member did not serve its renewed certificates; its files are renewed and still trusted, and running Update-EtcdCertificate again goes on.");

    // k3d
    public static readonly ErrorDefinition K3dNotFound = Session(nameof(K3dNotFound), FailureKind.ObjectNotFound, "The k3d CLI was not found (on PATH, K3DETCD_K3D_PATH or -K3dPath).");
    public static readonly ErrorDefinition K3dNotRunnable = Item(nameof(K3dNotRunnable), FailureKind.ResourceUnavailable, "The k3d CLI could not be started.");
    public static readonly ErrorDefinition K3dVersionUnknown = Item(nameof(K3dVersionUnknown), FailureKind.InvalidResult, "The k3d version could not be read from `k3d version`.");
    public static readonly ErrorDefinition UnsupportedK3dVersion = Session(nameof(UnsupportedK3dVersion), FailureKind.NotImplemented, "The k3d version is older than this module supports.");
    public static readonly ErrorDefinition K3dFeatureUnsupported = Item(nameof(K3dFeatureUnsupported), FailureKind.NotImplemented, "This k3d version lacks a feature the command needs.");
    public static readonly ErrorDefinition K3dCommandFailed = Item(nameof(K3dCommandFailed), FailureKind.InvalidResult, "A k3d command failed (the message carries its exit code and error text).");
    public static readonly ErrorDefinition K3dOutputUnreadable = Item(nameof(K3dOutputUnreadable), FailureKind.InvalidResult, "k3d printed output that is not the expected JSON.");
    public static readonly ErrorDefinition InvalidK3dClusterName = Item(nameof(InvalidK3dClusterName), FailureKind.InvalidArgument, "The k3d cluster name is not at most 32 letters, digits or '-'.");
    public static readonly ErrorDefinition InvalidServerCount = Item(nameof(InvalidServerCount), FailureKind.InvalidArgument, "-Servers is less than one.");
    public static readonly ErrorDefinition InvalidK3sToken = Item(nameof(InvalidK3sToken), FailureKind.InvalidArgument, "-Token is empty.");
    public static readonly ErrorDefinition InvalidApiPort = Item(nameof(InvalidApiPort), FailureKind.InvalidArgument, "-ApiPort is not PORT or HOST:PORT.");
    public static readonly ErrorDefinition K3dClusterExists = Item(nameof(K3dClusterExists), FailureKind.ResourceExists, "A k3d cluster with that name already exists.");
    public static readonly ErrorDefinition K3dClusterNotFound = Item(nameof(K3dClusterNotFound), FailureKind.ObjectNotFound, "No k3d cluster with that name exists.");
    public static readonly ErrorDefinition K3dConfigFileFailed = Item(nameof(K3dConfigFileFailed), FailureKind.ResourceUnavailable, "The private k3d config file that carries the token and datastore settings could not be written.");
    public static readonly ErrorDefinition K3sTokenFileFailed = Item(nameof(K3sTokenFileFailed), FailureKind.ResourceUnavailable, "The k3s token could not be kept in, or read from, the etcd cluster's private directory (k3d/NAME/token).");
    public static readonly ErrorDefinition K3dCreateFailed = Item(nameof(K3dCreateFailed), FailureKind.InvalidResult, "k3d could not create the cluster; it was rolled back and the datastore left as it was.");
    public static readonly ErrorDefinition InvalidDatastore = Item(nameof(InvalidDatastore), FailureKind.InvalidArgument, "-Datastore is not an EtcdCluster, a cluster name or a k3s datastore string.");
    public static readonly ErrorDefinition DatastoreFileNotFound = Item(nameof(DatastoreFileNotFound), FailureKind.ObjectNotFound, "A -CaFile, -CertFile or -KeyFile for the datastore does not exist.");
    public static readonly ErrorDefinition DatastorePreflightFailed = Item(nameof(DatastorePreflightFailed), FailureKind.ConnectionError, "The datastore did not pass the pre-flight probe, so nothing was created.");
    public static readonly ErrorDefinition DatastoreNotUsed = Item(nameof(DatastoreNotUsed), FailureKind.OperationTimeout, "k3s wrote no key to the datastore in time after k3d created the cluster.");
    public static readonly ErrorDefinition DatastoreTokenMismatch = Item(nameof(DatastoreTokenMismatch), FailureKind.InvalidOperation, "The datastore holds k3s bootstrap data made with another token.");
    public static readonly ErrorDefinition DatastoreProbeNotSupported = Item(nameof(DatastoreProbeNotSupported), FailureKind.NotImplemented, "Test-K3dDatastore probes etcd datastores only.");
    public static readonly ErrorDefinition ProbeImageNotFound = Item(nameof(ProbeImageNotFound), FailureKind.ObjectNotFound, "The image the datastore probe runs (for its etcdctl) is not present.");

    // Day-2 operations: snapshots, restore, compaction, defragmentation, alarms, leader moves
    public static readonly ErrorDefinition CompactionArgumentsConflict = Item(nameof(CompactionArgumentsConflict), FailureKind.InvalidArgument, "Invoke-EtcdCompaction was given both -Revision and -KeepRevisions.");
    public static readonly ErrorDefinition CompactionRevisionInFuture = Item(nameof(CompactionRevisionInFuture), FailureKind.InvalidArgument, "The compaction revision is newer than the cluster's current revision.");
    public static readonly ErrorDefinition DefragmentationMemberUnavailable = Item(nameof(DefragmentationMemberUnavailable), FailureKind.ResourceUnavailable, "A member to defragment is not running or does not answer.");
    public static readonly ErrorDefinition DefragmentationWouldBreakQuorum = Item(nameof(DefragmentationWouldBreakQuorum), FailureKind.InvalidOperation, "Defragmenting the member now would leave too few members serving to keep quorum.");
    public static readonly ErrorDefinition EtcdNoSpace = Item(nameof(EtcdNoSpace), FailureKind.QuotaExceeded, "etcd raised its NOSPACE alarm: the database is over its quota and writes are refused until Optimize-EtcdCluster.");
    public static readonly ErrorDefinition InvalidAutoCompactionMode = Item(nameof(InvalidAutoCompactionMode), FailureKind.InvalidArgument, "-AutoCompactionMode is not periodic or revision.");
    public static readonly ErrorDefinition InvalidAutoCompactionRetention = Item(nameof(InvalidAutoCompactionRetention), FailureKind.InvalidArgument, "-AutoCompactionRetention is not a duration (periodic mode) or a revision count (revision mode).");
    public static readonly ErrorDefinition InvalidQuotaBackendBytes = Item(nameof(InvalidQuotaBackendBytes), FailureKind.InvalidArgument, "-QuotaBackendBytes is zero, negative or above etcd's 8 GiB maximum.");
    public static readonly ErrorDefinition MoveLeaderTargetIsLearner = Item(nameof(MoveLeaderTargetIsLearner), FailureKind.InvalidArgument, "The member to move the leadership to is a learner, which cannot lead.");
    public static readonly ErrorDefinition MoveLeaderTargetUnavailable = Item(nameof(MoveLeaderTargetUnavailable), FailureKind.ResourceUnavailable, "The member to move the leadership to is stopped or does not answer.");
    public static readonly ErrorDefinition MoveLeaderTimeout = Item(nameof(MoveLeaderTimeout), FailureKind.OperationTimeout, "The leadership did not move to the named member in time.");
    public static readonly ErrorDefinition DiskProbeImageNotFound = Item(nameof(DiskProbeImageNotFound), FailureKind.ObjectNotFound, "The image Measure-EtcdDisk runs (one with /usr/bin/fio and /bin/rm, k3detcd/fio:3.33 by default) is not present on the member's engine.");
    public static readonly ErrorDefinition DiskProbeFailed = Item(nameof(DiskProbeFailed), FailureKind.InvalidResult, "The disk probe (fio in a short-lived container on the member's volume) failed or printed no result; its output is in the message.");
    public static readonly ErrorDefinition InvalidDiskThrottle = Item(nameof(InvalidDiskThrottle), FailureKind.InvalidArgument, "-ThrottleWriteIops is not DEVICE:IOPS (a block device path on the engine's host and a positive number), as docker run --device-write-iops takes it.");
    public static readonly ErrorDefinition RepairClusterHasQuorum = Item(nameof(RepairClusterHasQuorum), FailureKind.InvalidOperation, "The cluster still has a quorum: it is not rebuilt from one member (that would drop what the others hold); Repair-EtcdMember replaces lost members.");
    public static readonly ErrorDefinition RepairNeedsQuorum = Item(nameof(RepairNeedsQuorum), FailureKind.ResourceUnavailable, "The other members have no quorum, so the member cannot be removed and added again; the cluster needs Restore-EtcdSnapshot -Replace or Repair-EtcdCluster -FromMember.");
    public static readonly ErrorDefinition ReplaceWithoutRecord = Item(nameof(ReplaceWithoutRecord), FailureKind.ObjectNotFound, "What is left of the cluster holds no record of its members (a cluster made by K3dEtcd before 0.1.0's records): it cannot be rebuilt in place; restore into a new cluster (-Name).");
    public static readonly ErrorDefinition ReplaceParametersConflict = Item(nameof(ReplaceParametersConflict), FailureKind.InvalidArgument, "A cluster rebuilt in place keeps its own options; -Size, -Image, -Tls and the other New-EtcdCluster options do not apply with -Replace.");
    public static readonly ErrorDefinition RestoreNeedsLocalEngine = Item(nameof(RestoreNeedsLocalEngine), FailureKind.NotImplemented, "Restore-EtcdSnapshot copies the snapshot into member volumes, which needs a Docker engine on this machine.");
    public static readonly ErrorDefinition SnapshotAccessDenied = Item(nameof(SnapshotAccessDenied), FailureKind.SecurityError, "The snapshot file or its folder may not be read or written by this user.");
    public static readonly ErrorDefinition SnapshotCorrupted = Item(nameof(SnapshotCorrupted), FailureKind.InvalidArgument, "The snapshot file fails its integrity check (SHA-256 or database structure): it was changed or damaged.");
    public static readonly ErrorDefinition SnapshotDirectoryNotFound = Item(nameof(SnapshotDirectoryNotFound), FailureKind.ObjectNotFound, "The folder for the snapshot file does not exist.");
    public static readonly ErrorDefinition SnapshotFileExists = Item(nameof(SnapshotFileExists), FailureKind.ResourceExists, "A file already exists at the snapshot path (-Force replaces it).");
    public static readonly ErrorDefinition SnapshotNoMember = Item(nameof(SnapshotNoMember), FailureKind.ResourceUnavailable, "No member of the cluster answered to stream a snapshot.");
    public static readonly ErrorDefinition SnapshotNotFound = Item(nameof(SnapshotNotFound), FailureKind.ObjectNotFound, "The snapshot file does not exist.");
    public static readonly ErrorDefinition SnapshotPathIsDirectory = Item(nameof(SnapshotPathIsDirectory), FailureKind.InvalidArgument, "The snapshot path names a folder, not a file.");
    public static readonly ErrorDefinition SnapshotRestoreFailed = Item(nameof(SnapshotRestoreFailed), FailureKind.InvalidResult, "The etcd restore tool (etcdctl or etcdutl in the cluster's image) failed on the snapshot.");
    public static readonly ErrorDefinition SnapshotStreamCorrupted = Item(nameof(SnapshotStreamCorrupted), FailureKind.InvalidResult, "The snapshot etcd streamed did not match its own SHA-256; nothing was kept.");
    public static readonly ErrorDefinition SnapshotTruncated = Item(nameof(SnapshotTruncated), FailureKind.InvalidArgument, "The snapshot file is shorter than its database claims: it was cut off.");
    public static readonly ErrorDefinition SnapshotUnreadable = Item(nameof(SnapshotUnreadable), FailureKind.ResourceUnavailable, "The snapshot file could not be read (I/O error).");
    // Test-EtcdSnapshot (the restore drill)
    public static readonly ErrorDefinition SnapshotDirectoryEmpty = Item(nameof(SnapshotDirectoryEmpty), FailureKind.ObjectNotFound, "Test-EtcdSnapshot was given a folder that holds no snapshot (*.db) file.");
    public static readonly ErrorDefinition SnapshotDrillMismatch = Item(nameof(SnapshotDrillMismatch), FailureKind.InvalidResult, "A snapshot restored in Test-EtcdSnapshot's throwaway cluster, but its revision or key count differs from the snapshot's own (the verdict's ErrorId, not an error record).");
    public static readonly ErrorDefinition SnapshotTargetConflict = Item(nameof(SnapshotTargetConflict), FailureKind.InvalidArgument, "Save-EtcdSnapshot needs either -Path or -Directory (with -Cluster); -Keep goes with -Directory, -Force with -Path.");

    // Scheduled backups (Register-EtcdBackup: the user's crontab)
    public static readonly ErrorDefinition BackupIntervalInvalid = Item(nameof(BackupIntervalInvalid), FailureKind.InvalidArgument, "-Every is not an interval cron repeats exactly (minutes dividing 60, hours dividing 24, 1 day, 7 days); the message names the nearest valid ones.");
    public static readonly ErrorDefinition BackupScheduleExists = Item(nameof(BackupScheduleExists), FailureKind.ResourceExists, "The cluster already has a backup schedule (-Force replaces it).");
    public static readonly ErrorDefinition BackupScheduleNotFound = Item(nameof(BackupScheduleNotFound), FailureKind.ObjectNotFound, "The cluster has no backup schedule.");
    public static readonly ErrorDefinition BackupSchedulerNotSupported = Item(nameof(BackupSchedulerNotSupported), FailureKind.NotImplemented, "Scheduled backups use cron (Linux, macOS); Windows' Task Scheduler is not supported yet.");
    public static readonly ErrorDefinition BackupHostUnknown = Item(nameof(BackupHostUnknown), FailureKind.InvalidOperation, "The path of the running pwsh (or of the pwsh.dll a dotnet tool runs) could not be found, so no job could call it.");
    public static readonly ErrorDefinition CronNotInstalled = Item(nameof(CronNotInstalled), FailureKind.ObjectNotFound, "The crontab command is not installed (Debian/Ubuntu: apt-get install cron).");
    public static readonly ErrorDefinition CronNotRunning = Item(nameof(CronNotRunning), FailureKind.ResourceUnavailable, "No cron daemon runs on this machine, so a schedule would never fire (start it: systemctl start cron, or cron as root).");
    public static readonly ErrorDefinition CrontabFailed = Item(nameof(CrontabFailed), FailureKind.InvalidResult, "crontab -l or crontab - failed (the message carries its output); the crontab was not changed.");

    // The etcd browser
    public static readonly ErrorDefinition EtcdBrowserBodyTooLarge = Item(nameof(EtcdBrowserBodyTooLarge), FailureKind.InvalidArgument, "A value written from the browser page is over the page's size limit.");
    public static readonly ErrorDefinition EtcdBrowserNotFound = Item(nameof(EtcdBrowserNotFound), FailureKind.ObjectNotFound, "No etcd browser with that Id runs in this session.");
    public static readonly ErrorDefinition EtcdBrowserPortInvalid = Item(nameof(EtcdBrowserPortInvalid), FailureKind.InvalidArgument, "Start-EtcdBrowser -Port is not 1-65535 (or 0 for a free port).");
    public static readonly ErrorDefinition EtcdBrowserPortUnavailable = Item(nameof(EtcdBrowserPortUnavailable), FailureKind.ResourceUnavailable, "The port for the etcd browser is taken or may not be listened on.");
    public static readonly ErrorDefinition EtcdBrowserSearchEmpty = Item(nameof(EtcdBrowserSearchEmpty), FailureKind.InvalidArgument, "The browser page asked to search with no text.");

    private static ErrorDefinition Item(string id, FailureKind kind, string meaning) => new(id, kind, ErrorScope.Item, meaning);
    private static ErrorDefinition Session(string id, FailureKind kind, string meaning) => new(id, kind, ErrorScope.Session, meaning);

    private static readonly Lazy<IReadOnlyDictionary<string, ErrorDefinition>> ById = new(() =>
        typeof(ErrorCatalog).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ErrorDefinition))
            .Select(f => (ErrorDefinition)f.GetValue(null)!)
            .ToDictionary(d => d.Id, StringComparer.Ordinal));

    /// <summary>All entries, in declaration order.</summary>
    public static IReadOnlyList<ErrorDefinition> All =>
        typeof(ErrorCatalog).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ErrorDefinition))
            .OrderBy(f => f.MetadataToken)
            .Select(f => (ErrorDefinition)f.GetValue(null)!)
            .ToList();

    public static ErrorDefinition? Find(string id) => ById.Value.TryGetValue(id, out var d) ? d : null;
}

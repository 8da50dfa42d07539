using System.Collections.Concurrent;
using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Docker;

namespace K3dEtcd.Commands;

/// <summary>
/// Base of every K3dEtcd cmdlet: runs async service code on the pipeline thread (so Write*
/// calls are always legal), cancels it on Ctrl+C, and turns service failures into ErrorRecords
/// with stable ErrorIds.
/// </summary>
public abstract class K3dEtcdCmdlet : PSCmdlet, IOperationLog, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private PumpContext? _pump;

    protected CancellationToken CancellationToken => _stopping.Token;

    protected sealed override void BeginProcessing() => Run(BeginProcessingAsync);
    protected sealed override void ProcessRecord() => Run(ProcessRecordAsync);
    protected sealed override void EndProcessing() => Run(EndProcessingAsync);
    protected override void StopProcessing() => _stopping.Cancel();

    protected virtual Task BeginProcessingAsync(CancellationToken ct) => Task.CompletedTask;
    protected virtual Task ProcessRecordAsync(CancellationToken ct) => Task.CompletedTask;
    protected virtual Task EndProcessingAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Runs <paramref name="work"/> with a single-threaded context on the pipeline thread.</summary>
    private void Run(Func<CancellationToken, Task> work)
    {
        var previous = SynchronizationContext.Current;
        var pump = new PumpContext();
        _pump = pump;
        SynchronizationContext.SetSynchronizationContext(pump);
        try
        {
            var task = work(_stopping.Token);
            if (task.IsCompleted)
            {
                // Finished synchronously (the common case for piped records): no thread-pool hop to wait for.
                pump.Complete();
            }
            else
            {
                task.ContinueWith(_ => pump.Complete(), TaskScheduler.Default);
            }
            pump.RunUntilComplete();
            task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (EngineErrors.Translate(ex) is { } known)
        {
            ThrowTerminatingError(ToErrorRecord(known));
        }
        finally
        {
            _pump = null;
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    /// <summary>Runs a callback on the pipeline thread, now if we are on it, else queued to the pump.</summary>
    private void OnPipelineThread(Action action)
    {
        var pump = _pump;
        if (pump is null || pump.IsPumpThread) action();
        else pump.Post(_ => action(), null);
    }

    void IOperationLog.Verbose(string message) => OnPipelineThread(() => WriteVerbose(message));
    void IOperationLog.Warning(string message) => OnPipelineThread(() => WriteWarning(message));
    void IOperationLog.Progress(OperationProgress p) => OnPipelineThread(() =>
    {
        var record = new ProgressRecord(p.ActivityId, p.Activity, string.IsNullOrEmpty(p.Status) ? " " : p.Status)
        {
            PercentComplete = p.Completed ? 100 : Math.Clamp(p.PercentComplete, -1, 100),
            RecordType = p.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        WriteProgress(record);
    });

    protected IOperationLog Log => this;

    /// <summary>-Force skips the confirmation prompt, but -WhatIf still only describes the change.</summary>
    protected bool ShouldProcessUnlessForced(bool force, string target, string action)
    {
        var whatIf = (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter { IsPresent: true })
            || (GetVariableValue("WhatIfPreference") is bool b && b)
            || (GetVariableValue("WhatIfPreference") is SwitchParameter s && s.IsPresent);
        if (force && !whatIf)
        {
            WriteVerbose($"Performing the operation \"{action}\" on target \"{target}\" (-Force).");
            return true;
        }
        return ShouldProcess(target, action);
    }

    private DockerConnection? _docker;

    /// <summary>The Docker engine of this command, connected once; a missing engine ends the command.</summary>
    protected async Task<DockerConnection> GetDockerAsync(CancellationToken ct) =>
        _docker ??= await DockerConnection.ConnectAsync(ModuleSession.Current.DockerHost, ct);

    protected async Task<EtcdClusterService> GetClusterServiceAsync(CancellationToken ct) =>
        new(await GetDockerAsync(ct), this);

    /// <summary>
    /// A cluster given by name (a placeholder from <see cref="Etcd.EtcdClusterTransformationAttribute"/>)
    /// read from Docker; a full cluster object is used as it is.
    /// </summary>
    protected async Task<Model.EtcdCluster> FindClusterAsync(Model.EtcdCluster cluster, CancellationToken ct)
    {
        if (!Etcd.EtcdClusterTransformationAttribute.IsUnresolved(cluster)) return cluster;
        EtcdClusterService.ValidateName(cluster.Name);
        var service = await GetClusterServiceAsync(ct);
        return await service.GetAsync(cluster.Name, ct)
            ?? throw new K3dEtcdException("EtcdClusterNotFound", FailureKind.ObjectNotFound,
                $"No etcd cluster named '{cluster.Name}' was found (clusters are found by the Docker label io.k3detcd.cluster).", cluster.Name);
    }

    protected static ErrorRecord ToErrorRecord(K3dEtcdException ex) =>
        new(ex, ex.ErrorId, ToCategory(ex.Kind), ex.Target);

    /// <summary>Reports a per-item failure and lets the pipeline go on.</summary>
    protected void WriteFailure(K3dEtcdException ex) => WriteError(ToErrorRecord(ex));

    public static ErrorCategory ToCategory(FailureKind kind) => kind switch
    {
        FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
        FailureKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        FailureKind.ResourceExists => ErrorCategory.ResourceExists,
        FailureKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        FailureKind.ConnectionError => ErrorCategory.ConnectionError,
        FailureKind.OperationTimeout => ErrorCategory.OperationTimeout,
        FailureKind.InvalidResult => ErrorCategory.InvalidResult,
        FailureKind.InvalidOperation => ErrorCategory.InvalidOperation,
        FailureKind.NotImplemented => ErrorCategory.NotImplemented,
        FailureKind.SecurityError => ErrorCategory.SecurityError,
        FailureKind.QuotaExceeded => ErrorCategory.QuotaExceeded,
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>Releases what a derived cmdlet holds for the whole pipeline; PowerShell calls Dispose even after Ctrl+C or errors.</summary>
    protected virtual void OnDispose() { }

    public void Dispose()
    {
        OnDispose();
        _docker?.Dispose();
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A single-threaded SynchronizationContext drained by the pipeline thread.</summary>
    private sealed class PumpContext : SynchronizationContext
    {
        private readonly BlockingCollection<(SendOrPostCallback, object?)> _queue = new();
        private readonly int _threadId = Environment.CurrentManagedThreadId;

        public bool IsPumpThread => Environment.CurrentManagedThreadId == _threadId;

        public override void Post(SendOrPostCallback d, object? state)
        {
            try { _queue.Add((d, state)); }
            catch (InvalidOperationException) { } // completed: late progress after the task ended is dropped
        }

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException();

        public void Complete() => _queue.CompleteAdding();

        public void RunUntilComplete()
        {
            foreach (var (callback, state) in _queue.GetConsumingEnumerable())
            {
                callback(state);
            }
        }
    }
}

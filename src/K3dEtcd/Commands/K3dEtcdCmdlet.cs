using K3dEtcd.Services;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Clusters;

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
    private int _pipelineThread = -1;
    // Messages from work that runs on between two records (a Set-EtcdKey batch in flight), written
    // when the pipeline thread comes back: only that thread may call Write*.
    private readonly ConcurrentQueue<Action> _deferred = new();

    protected CancellationToken CancellationToken => _stopping.Token;

    private long _started = Stopwatch.GetTimestamp();

    protected sealed override void BeginProcessing()
    {
        _started = Stopwatch.GetTimestamp();
        Run(BeginProcessingAsync);
    }
    protected sealed override void ProcessRecord() => Run(ProcessRecordAsync);
    protected sealed override void EndProcessing() => Run(EndProcessingAsync);
    protected override void StopProcessing() => _stopping.Cancel();

    protected virtual Task BeginProcessingAsync(CancellationToken ct) => Task.CompletedTask;
    protected virtual Task ProcessRecordAsync(CancellationToken ct) => Task.CompletedTask;
    protected virtual Task EndProcessingAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Runs <paramref name="work"/> with a single-threaded context on the pipeline thread.</summary>
    private void Run(Func<CancellationToken, Task> work)
    {
        _pipelineThread = Environment.CurrentManagedThreadId;
        WriteDeferred();
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
        catch (OperationCanceledException ex)
        {
            // Nobody pressed Ctrl+C, so an internal deadline ran out (a gRPC deadline surfacing as
            // TaskCanceledException, a wait with CancelAfter): that is a timeout, not a stop.
            ThrowTerminatingError(ToErrorRecord(new K3dEtcdException(ErrorCatalog.OperationTimedOut,
                $"{MyInvocation.MyCommand.Name}: an operation did not finish in time and was abandoned ({ex.Message}).", MyInvocation.MyCommand.Name, ex)));
        }
        catch (Exception ex) when (EngineErrors.Translate(ex) is { } known)
        {
            ThrowTerminatingError(ToErrorRecord(known));
        }
        finally
        {
            _pump = null;
            SynchronizationContext.SetSynchronizationContext(previous);
            WriteDeferred();
        }
    }

    private void WriteDeferred()
    {
        while (_deferred.TryDequeue(out var action)) Guarded(action);
    }

    /// <summary>Runs a callback on the pipeline thread, now if we are on it, else queued to the pump.</summary>
    private void OnPipelineThread(Action action)
    {
        var pump = _pump;
        if (pump is not null ? pump.IsPumpThread : Environment.CurrentManagedThreadId == _pipelineThread) Guarded(action);
        else if (pump is null || !pump.TryPost(_ => Guarded(action), null)) _deferred.Enqueue(action);
    }

    /// <summary>
    /// After Ctrl+C every Write* throws PipelineStoppedException. A roll-back that runs after the
    /// stop still reports what it does: without this guard the first such message would end the
    /// pump, the command would return while the roll-back runs on, and Dispose would close the
    /// Docker connection under it (seen: a stopped New-EtcdCluster left its containers behind).
    /// </summary>
    private void Guarded(Action action)
    {
        try { action(); }
        catch (PipelineStoppedException) when (_stopping.IsCancellationRequested) { }
    }

    /// <summary>
    /// Runs <paramref name="func"/> on the pipeline thread and gives its result to service code that
    /// may be on another thread (a confirmation a service asks for between two of its steps).
    /// </summary>
    protected Task<T> OnPipelineThreadAsync<T>(Func<T> func)
    {
        var pump = _pump;
        if (pump is null || pump.IsPumpThread) return Task.FromResult(func());
        var answer = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!pump.TryPost(_ =>
            {
                try { answer.SetResult(func()); }
                catch (Exception ex) { answer.SetException(ex); }
            }, null))
        {
            answer.SetException(new InvalidOperationException($"{MyInvocation.MyCommand.Name}: the pipeline thread no longer runs this command."));
        }
        return answer.Task;
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

    void IOperationLog.Phase(string phase)
    {
        // Taken now, written when the pipeline thread gets to it.
        var text = PhaseText(Stopwatch.GetElapsedTime(_started), phase);
        OnPipelineThread(() => WriteVerbose(text));
    }

    /// <summary>"[  312 ms] network created": milliseconds since the command started, right-aligned so phases line up.</summary>
    internal static string PhaseText(TimeSpan sinceStart, string phase) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{sinceStart.TotalMilliseconds,6:0} ms] {phase}");

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
    protected async Task<DockerConnection> GetDockerAsync(CancellationToken ct)
    {
        if (_docker is null)
        {
            _docker = await DockerConnection.ConnectAsync(ModuleSession.Current.DockerHost, ModuleSession.Current.AdditionalDockerHosts, ModuleSession.Current.DockerCertPath, ct);
            Log.Phase("Docker engine connected");
        }
        return _docker;
    }

    protected async Task<EtcdClusterService> GetClusterServiceAsync(CancellationToken ct) =>
        EtcdServices.Clusters(await GetDockerAsync(ct), this);

    /// <summary>
    /// The cmdlets' one way to a cluster given by object or name: a name (a placeholder from
    /// <see cref="Etcd.EtcdClusterTransformationAttribute"/>) is read from Docker through
    /// <see cref="EtcdClusterService.ResolveAsync"/>; an object is used as it is, or read again
    /// with <paramref name="refresh"/> (it may be old). A cluster given by endpoints is no cluster
    /// object at all: the data cmdlets connect to those endpoints directly.
    /// </summary>
    protected async Task<Model.EtcdCluster> FindClusterAsync(Model.EtcdCluster cluster, CancellationToken ct, bool refresh = false)
    {
        var byName = Etcd.EtcdClusterTransformationAttribute.IsUnresolved(cluster);
        if (!byName && !refresh) return cluster;
        if (byName) EtcdClusterService.ValidateName(cluster.Name);
        if (byName) WriteVerbose($"Docker: looking up etcd cluster '{cluster.Name}' by label.");
        return await (await GetClusterServiceAsync(ct)).ResolveAsync(cluster.Name, ct);
    }

    protected static ErrorRecord ToErrorRecord(K3dEtcdException ex) =>
        new(ex, ex.ErrorId, ToCategory(ex.Kind), ex.Target);

    /// <summary>
    /// Whether a failure that happened while processing one input is reported for that input and
    /// the command goes on (the catalogue's <see cref="ErrorScope.Item"/>), or ends the command
    /// because every later input would fail the same way (<see cref="ErrorScope.Session"/>: the
    /// Docker engine or the k3d CLI). Cmdlets filter with it: <c>catch (K3dEtcdException ex) when (IsPerItem(ex))</c>.
    /// </summary>
    protected static bool IsPerItem(K3dEtcdException ex) => ex.Definition?.Scope != ErrorScope.Session;

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
        FailureKind.LimitsExceeded => ErrorCategory.LimitsExceeded,
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

        public override void Post(SendOrPostCallback d, object? state) => TryPost(d, state);

        /// <summary>False once the pump has completed (late progress after the task ended is dropped).</summary>
        public bool TryPost(SendOrPostCallback d, object? state)
        {
            try
            {
                _queue.Add((d, state));
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
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

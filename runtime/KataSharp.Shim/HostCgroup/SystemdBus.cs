using Tmds.DBus.Protocol;

namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// systemd's manager over the system bus with Tmds.DBus.Protocol (message writers and readers, no reflection, so NativeAOT
/// keeps it whole): StartTransientUnit, then the manager's JobRemoved signal for the scope's job, as runc's systemd driver waits.
/// </summary>
internal sealed class SystemdBus : ISystemdManager
{
    private const string Service = "org.freedesktop.systemd1";
    private const string ManagerPath = "/org/freedesktop/systemd1";
    private const string ManagerInterface = "org.freedesktop.systemd1.Manager";

    private readonly string _address;

    private SystemdBus(string address) => _address = address;

    /// <summary>
    /// The system bus when systemd runs this host (sd_booted: /run/systemd/system exists); otherwise null with
    /// <paramref name="reason"/> saying what is missing.
    /// </summary>
    public static SystemdBus? Connect(out string reason, string runtimeDirectory = "/run/systemd/system")
    {
        reason = "";
        if (!Directory.Exists(runtimeDirectory))
        {
            reason = $"no systemd runs on this host (no {runtimeDirectory})";
            return null;
        }

        if (DBusAddress.System is not { Length: > 0 } address)
        {
            reason = "no system bus address";
            return null;
        }

        return new SystemdBus(address);
    }

    public async Task StartTransientScopeAsync(TransientScope scope, CancellationToken cancellationToken)
    {
        try
        {
            using var connection = new DBusConnection(_address);
            await connection.ConnectAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            var removed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            // Subscribed before the call: the job may finish before its path comes back. The unit names the job well
            // enough, as the pod's scope is started once.
            using var watch = await connection.WatchSignalAsync(Service, ManagerPath, ManagerInterface, "JobRemoved",
                static (Message m, object? _) =>
                {
                    var reader = m.GetBodyReader();
                    reader.ReadUInt32();
                    reader.ReadObjectPathAsString();
                    return (Unit: reader.ReadString(), Result: reader.ReadString());
                },
                (Notification<(string Unit, string Result)> job) =>
                {
                    if (job.IsCompletion)
                    {
                        removed.TrySetException(new SystemdException($"the system bus went away: {job.CompletionReason?.Message}"));
                    }
                    else if (job.HasValue && job.Value.Unit == scope.Unit)
                    {
                        removed.TrySetResult(job.Value.Result);
                    }
                }, ObserverFlags.EmitOnConnectionClosed | ObserverFlags.EmitOnConnectionFailed, false, null).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            await connection.CallMethodAsync(Subscribe(connection)).WaitAsync(cancellationToken).ConfigureAwait(false);
            await connection.CallMethodAsync(StartTransientUnit(connection, scope), static (Message m, object? _) => m.GetBodyReader().ReadObjectPathAsString(), null)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            var result = await removed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result != "done")
            {
                throw new SystemdException($"systemd's job for {scope.Unit} ended \"{result}\"");
            }
        }
        catch (DBusExceptionBase e)
        {
            throw new SystemdException($"systemd over D-Bus: {e.Message}", e);
        }
        catch (OperationCanceledException e)
        {
            throw new SystemdException($"systemd did not start {scope.Unit} in time", e);
        }
    }

    /// <summary>systemd sends JobRemoved only while some client has subscribed.</summary>
    private static MessageBuffer Subscribe(DBusConnection connection)
    {
        using var writer = connection.GetMessageWriter();
        writer.WriteMethodCallHeader(Service, ManagerPath, ManagerInterface, "Subscribe", null, MessageFlags.None);
        return writer.CreateMessage();
    }

    /// <summary>StartTransientUnit(name, mode, properties a(sv), aux a(sa(sv))).</summary>
    private static MessageBuffer StartTransientUnit(DBusConnection connection, TransientScope scope)
    {
        using var writer = connection.GetMessageWriter();
        writer.WriteMethodCallHeader(Service, ManagerPath, ManagerInterface, "StartTransientUnit", "ssa(sv)a(sa(sv))", MessageFlags.None);
        writer.WriteString(scope.Unit);
        writer.WriteString("replace");
        var properties = writer.WriteArrayStart(DBusType.Struct);
        foreach (var (name, value) in scope.Properties)
        {
            writer.WriteStructureStart();
            writer.WriteString(name);
            switch (value)
            {
                case string text:
                    writer.WriteVariantString(text);
                    break;
                case bool flag:
                    writer.WriteVariantBool(flag);
                    break;
                case uint[] numbers:
                    writer.WriteVariant(new Array<uint>(numbers));
                    break;
                default:
                    throw new InvalidOperationException($"property {name} has a type StartTransientUnit is not sent: {value.GetType().Name}");
            }
        }

        writer.WriteArrayEnd(properties);
        writer.WriteArrayEnd(writer.WriteArrayStart(DBusType.Struct));
        return writer.CreateMessage();
    }
}

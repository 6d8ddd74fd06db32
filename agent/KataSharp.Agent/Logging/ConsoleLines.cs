using System.Text;

namespace KataSharp.Agent.Logging;

/// <summary>
/// Whole log lines to stderr, which is /dev/console for PID 1 and so reaches the host through the VM
/// console, where the shim relays them into containerd's log. Deliberately not System.Console (its
/// terminal set-up installs signal handling the agent does not want).
/// </summary>
internal sealed class ConsoleLines
{
    private readonly Stream _output;
    private readonly Lock _gate = new();

    public ConsoleLines(Stream? output = null) =>
        _output = output ?? new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false), FileAccess.Write, 1);

    public void Write(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            try
            {
                _output.Write(bytes);
                _output.Flush();
            }
            catch (IOException)
            {
                // A console that cannot be written must not take the agent down.
            }
        }
    }
}

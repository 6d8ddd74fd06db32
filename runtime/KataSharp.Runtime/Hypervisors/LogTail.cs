using System.Text;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>The last lines of a log file, for error messages that must say why a VM died.</summary>
public static class LogTail
{
    /// <summary>
    /// The last <paramref name="maxLines"/> lines within the file's last <paramref name="maxBytes"/>. The log may still be
    /// written (a console, a virtiofsd): what is read stops at <paramref name="maxBytes"/>, and a line cut by the start
    /// of that window is left out rather than shown as if it were whole.
    /// </summary>
    public static string Read(string path, int maxLines = 20, int maxBytes = 64 * 1024)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, file.Length - maxBytes);
            file.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[(int)Math.Min(maxBytes, file.Length - start)];
            var length = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            var text = Encoding.UTF8.GetString(buffer, 0, length);
            if (start > 0 && text.IndexOf('\n') is var firstBreak and >= 0)
            {
                text = text[(firstBreak + 1)..];
            }

            var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - maxLines)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}

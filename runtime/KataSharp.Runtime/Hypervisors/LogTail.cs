namespace KataSharp.Runtime.Hypervisors;

/// <summary>The last lines of a log file, for error messages that must say why a VM died.</summary>
public static class LogTail
{
    public static string Read(string path, int maxLines = 20, int maxBytes = 64 * 1024)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (file.Length > maxBytes)
            {
                file.Seek(-maxBytes, SeekOrigin.End);
            }

            using var reader = new StreamReader(file);
            var lines = reader.ReadToEnd().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - maxLines)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}

namespace KataSharp.Cli.Install;

/// <summary>Install or uninstall cannot go on; the message says why and what to do.</summary>
internal sealed class InstallException(string message) : Exception(message);

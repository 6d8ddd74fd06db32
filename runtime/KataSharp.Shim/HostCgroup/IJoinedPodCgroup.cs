namespace KataSharp.Shim.HostCgroup;

/// <summary>The pod's host cgroup with the shim in it, so that whatever the shim starts (QEMU, helpers) is born there.</summary>
internal interface IJoinedPodCgroup
{
    /// <summary>What the shim joined, for logs: a directory per hierarchy, or a systemd unit.</summary>
    string Where { get; }

    /// <summary>
    /// Takes the shim back out once the VM and its helpers have exited, and removes what joining made, so that whoever owns
    /// the pod's cgroup (kubelet, containerd) can remove it: a cgroup that holds a process cannot be removed.
    /// </summary>
    Task LeaveAsync();
}

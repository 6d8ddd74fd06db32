// Each containerd collection boots VMs under emulation: run them one after the other, not side by side.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

"""`python -m vibeweaver.kernel`: the kernel process (started by the service's KernelActor)."""

from vibeweaver.kernel.main import main

raise SystemExit(main())

from cadence.monitoring.cli import main

raise SystemExit(main())

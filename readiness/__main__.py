from readiness.cli import main

raise SystemExit(main())

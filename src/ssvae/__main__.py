from ssvae.cli import main

raise SystemExit(main())

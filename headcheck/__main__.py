from headcheck.cli import main

raise SystemExit(main())

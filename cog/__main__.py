import sys

from cog.cli import main

sys.exit(main())

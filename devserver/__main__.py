"""``python -m devserver`` (from the repository root): the bundled demo server."""

import sys

from devserver import main

sys.exit(main())

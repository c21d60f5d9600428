import sys

from camlab.grading.cli import main

sys.exit(main())

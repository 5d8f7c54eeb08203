"""The engines that score a batch job's windows: this process (``local``), worker processes
(``processes``) or a Ray actor pool (``ray``)."""

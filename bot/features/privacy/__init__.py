"""Privacy: /privacy, export (/mijngegevens), erase (/vergeetmij) and the retention sweep."""

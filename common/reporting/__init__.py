"""What reads the JSON records and writes the reports: REPORT.md (page), README's blocks (readme),
every figure (figures), and what they rest on: a run's seeds (seeds), statistics (stats), the
report's claims (claims), the two readings (readings), timing and the 1.3.7 ablations. Nothing
here trains; the training part of common/ never imports this package."""

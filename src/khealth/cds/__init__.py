"""Clinical decision support: validated calculators (``khealth.cds.calculators``) and, later,
features from the city record, trained models and CDS Hooks delivery.

Domain code: plain Python, no HTTP and no SQL (an import-linter contract enforces it).
"""

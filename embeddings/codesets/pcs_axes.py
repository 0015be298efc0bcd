"""ICD-10-PCS facts: section names, axis names per section, and plain words for approaches."""
from __future__ import annotations

SECTIONS = {
    "0": "Medical and Surgical", "1": "Obstetrics", "2": "Placement", "3": "Administration",
    "4": "Measurement and Monitoring", "5": "Extracorporeal or Systemic Assistance and Performance",
    "6": "Extracorporeal or Systemic Therapies", "7": "Osteopathic", "8": "Other Procedures",
    "9": "Chiropractic", "B": "Imaging", "C": "Nuclear Medicine", "D": "Radiation Therapy",
    "F": "Physical Rehabilitation and Diagnostic Audiology", "G": "Mental Health",
    "H": "Substance Abuse Treatment", "X": "New Technology",
}

_SURGICAL = ("Section", "Body System", "Root Operation", "Body Part", "Approach", "Device", "Qualifier")
_MANUAL = ("Section", "Body System", "Root Operation", "Body Region", "Approach", "Method", "Qualifier")
AXIS_NAMES = {
    "0": _SURGICAL, "1": _SURGICAL,
    "2": ("Section", "Body System", "Root Operation", "Body Region", "Approach", "Device", "Qualifier"),
    "3": ("Section", "Body System", "Root Operation", "Body System / Region", "Approach", "Substance", "Qualifier"),
    "4": ("Section", "Body System", "Root Operation", "Body System", "Approach", "Function / Device", "Qualifier"),
    "5": ("Section", "Body System", "Root Operation", "Body System", "Duration", "Function", "Qualifier"),
    "6": ("Section", "Body System", "Root Operation", "Body System", "Duration", "Qualifier", "Qualifier"),
    "7": _MANUAL, "8": _MANUAL, "9": _MANUAL,
    "B": ("Section", "Body System", "Type", "Body Part", "Contrast", "Qualifier", "Qualifier"),
    "C": ("Section", "Body System", "Type", "Body Part", "Radionuclide", "Qualifier", "Qualifier"),
    "D": ("Section", "Body System", "Modality", "Treatment Site", "Modality Qualifier", "Isotope", "Qualifier"),
    "F": ("Section", "Section Qualifier", "Type", "Body System / Region", "Type Qualifier", "Equipment", "Qualifier"),
    "G": ("Section", "Body System", "Type", "Qualifier", "Qualifier", "Qualifier", "Qualifier"),
    "H": ("Section", "Body System", "Type", "Qualifier", "Qualifier", "Qualifier", "Qualifier"),
    "X": ("Section", "Body System", "Operation", "Body Part", "Approach", "Device / Substance / Technology", "Qualifier"),
}

# Everyday words clinicians use for each approach (PCS guideline: laparoscopic, thoracoscopic and
# arthroscopic procedures are coded with the percutaneous endoscopic approach).
APPROACH_PLAIN_WORDS = {
    "Open": "open surgery through an incision",
    "Percutaneous": "through the skin by needle or small puncture",
    "Percutaneous Endoscopic": "laparoscopic, thoracoscopic or arthroscopic (keyhole) surgery",
    "Via Natural or Artificial Opening": "through a natural opening such as the mouth, nose, urethra or vagina",
    "Via Natural or Artificial Opening Endoscopic": "endoscopy through a natural opening (scope)",
    "Via Natural or Artificial Opening With Percutaneous Endoscopic Assistance":
        "through a natural opening with laparoscopic assistance",
    "External": "from outside the body, on the skin or by external force",
}

"""The demo tenant's vocabulary: regions, names, partners, catalogue and price ranges."""
from __future__ import annotations

from decimal import Decimal

DEMO_LOGINS = [
    ("admin", "admin@stores-dupont.example", "demo-admin-2026"),
    ("sales", "commercial@stores-dupont.example", "demo-sales-2026"),
    ("agent", "agent@stores-dupont.example", "demo-agent-2026"),
    ("subscriber", "client@stores-dupont.example", "demo-client-2026"),
]

SPAN_DAYS = 425  # about 14 months of history
CENT = Decimal("0.01")
SEGMENTS = {"person": "Particulier", "artisan": "Artisan", "major": "Grand compte",
            "public": "Collectivité"}

# region: (phone prefix, [(city, postal code)], partner or None)
REGIONS = {
    "ouest": ("02", [("Nantes", "44000"), ("Saint-Nazaire", "44600"), ("Angers", "49000"),
                     ("Rennes", "35000"), ("La Roche-sur-Yon", "85000"), ("Vannes", "56000"),
                     ("Cholet", "49300")]),
    "rhone": ("04", [("Lyon", "69003"), ("Villeurbanne", "69100"), ("Grenoble", "38000"),
                     ("Saint-Étienne", "42000"), ("Annecy", "74000"),
                     ("Bourg-en-Bresse", "01000")]),
    "sud": ("04", [("Marseille", "13008"), ("Aix-en-Provence", "13100"), ("Toulon", "83000"),
                   ("Nice", "06000"), ("Avignon", "84000"), ("Montpellier", "34000")]),
    "sud-ouest": ("05", [("Bordeaux", "33000"), ("Mérignac", "33700"), ("Arcachon", "33120"),
                         ("Pau", "64000"), ("Bayonne", "64100"), ("Toulouse", "31000")]),
    "nord": ("03", [("Lille", "59000"), ("Roubaix", "59100"), ("Arras", "62000"),
                    ("Amiens", "80000"), ("Dunkerque", "59140")]),
    "est": ("03", [("Strasbourg", "67000"), ("Colmar", "68000"), ("Mulhouse", "68100"),
                   ("Metz", "57000"), ("Nancy", "54000")]),
    "idf": ("01", [("Paris", "75011"), ("Boulogne-Billancourt", "92100"), ("Versailles", "78000"),
                   ("Créteil", "94000"), ("Montreuil", "93100")]),
}
REGION_WEIGHTS = {"ouest": 22, "rhone": 18, "sud": 15, "sud-ouest": 12, "nord": 10, "est": 8,
                  "idf": 15}
PARTNERS = [
    ("ouest", "Ouest Fermetures", "contact@ouest-fermetures.example", "02 40 48 12 30"),
    ("rhone", "Rhône Protection Solaire", "agence@rhone-solaire.example", "04 78 62 45 10"),
    ("sud", "Soleil & Ombre Provence", "bonjour@soleil-ombre.example", "04 91 25 63 80"),
    ("sud-ouest", "Atelier du Store Bordelais", "contact@store-bordelais.example",
     "05 56 44 21 09"),
    ("nord", "Fermetures du Nord", "agence@fermetures-du-nord.example", "03 20 57 88 14"),
    ("est", "Koenig Menuiseries Alsace", "info@koenig-menuiseries.example", "03 88 32 71 45"),
]
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier "
    "Dupuis Lambert Bonnet François Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry "
    "Roussel Perrin Morin Mathieu Clément Gauthier Fontaine Chevalier Robin Tanguy Schmitt "
    "Meyer Kerbrat Lemaire Barbier Arnaud Colin Marchand"
).split()
FIRST_NAMES = (
    "Jean Pierre Michel Philippe Nicolas Julien Thomas Antoine Laurent Sébastien Olivier "
    "Christophe Éric Mathieu Hugo Louis Marie Nathalie Isabelle Sophie Céline Sandrine Camille "
    "Julie Émilie Claire Aurélie Léa Manon Chloé Anne Valérie"
).split()
STREETS = [
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta",
    "rue du Général de Gaulle", "rue Pasteur", "chemin des Vignes", "allée des Tilleuls",
    "rue de l'Église", "avenue de la Gare", "rue des Artisans", "impasse des Lilas",
    "rue Nationale", "place du Marché", "rue des Écoles", "avenue des Sports",
]
PROGRAMMES = [
    "Les Jardins de Lucie", "Le Clos des Vignes", "Les Terrasses du Lac", "Villa Rivoli",
    "Le Carré Saint-Pierre", "Les Allées du Parc", "Cœur de Ville", "L'Orée du Bois",
    "Les Balcons de l'Erdre", "Domaine des Hirondelles", "Le Belvédère", "Les Hauts de Loire",
]
MAJOR_NAMES = [
    "Atlantique Promotion", "Bâtisseurs du Rhône", "Foncière Méditerranée", "Résidences de l'Ouest",
    "Groupe Immobilier Lemaire", "Gironde Habitat Promotion", "Nord Logis", "Alsace Résidences",
    "Francilienne de Promotion", "Provence Logement", "Loire Océan Habitat", "Sud Azur Immobilier",
]
# sku: (label, unit price excl. tax)
CATALOG = {
    "SB-400": ("Store banne 4 m", "1290.00"),
    "SB-500M": ("Store banne 5 m motorisé", "1890.00"),
    "SB-COF6": ("Store banne coffre intégral 6 m", "2650.00"),
    "VR-ALU": ("Volet roulant alu", "389.00"),
    "VR-ALUM": ("Volet roulant alu motorisé", "549.00"),
    "VR-SOL": ("Volet roulant solaire", "729.00"),
    "VR-PVC": ("Volet roulant PVC", "289.00"),
    "MQ-ENR": ("Moustiquaire enroulable", "119.00"),
    "MQ-PLI": ("Moustiquaire plissée porte-fenêtre", "189.00"),
    "SI-OCC": ("Store intérieur enrouleur occultant", "89.00"),
    "SV-50": ("Store vénitien alu 50 mm", "129.00"),
    "BSO-80": ("Brise-soleil orientable lames 80 mm", "980.00"),
    "SZ-EXT": ("Store screen zip extérieur", "690.00"),
    "PG-BIO": ("Pergola bioclimatique 4 x 3 m", "8900.00"),
    "MOT-IO": ("Motorisation radio io", "245.00"),
    "TEL-5C": ("Télécommande 5 canaux", "79.00"),
    "POSE": ("Pose et réglage (par ouvrage)", "95.00"),
    "DEP": ("Déplacement technicien", "65.00"),
    "MO-H": ("Main-d'œuvre SAV (heure)", "58.00"),
    "PCE-MOT": ("Moteur de remplacement", "210.00"),
    "PCE-TOILE": ("Toile de store banne 4 m", "420.00"),
}
# category: (products, quantity range, installed by us, price factor)
RANGES = {
    "person": (["SB-400", "SB-500M", "VR-ALU", "VR-ALUM", "VR-SOL", "MQ-ENR", "MQ-PLI", "SI-OCC",
                "PG-BIO", "TEL-5C"], (1, 6), True, "1"),
    "artisan": (["VR-ALU", "VR-PVC", "VR-SOL", "VR-ALUM", "MQ-ENR", "SV-50", "SI-OCC", "MOT-IO",
                 "TEL-5C"], (2, 24), False, "0.80"),
    "major": (["VR-ALUM", "VR-SOL", "BSO-80", "SZ-EXT", "SI-OCC"], (12, 80), True, "0.85"),
    "public": (["BSO-80", "SI-OCC", "SV-50", "SZ-EXT", "VR-ALUM"], (6, 40), True, "0.90"),
    "shop": (["SB-500M", "SB-COF6", "PG-BIO", "SZ-EXT", "MOT-IO"], (1, 3), True, "1"),
}
CARRIERS = ["Geodis", "DB Schenker", "Heppner", "Kuehne+Nagel", "Livraison Stores Dupont"]

"""Words the generator draws names and addresses from (French, like the tenants' data)."""

TRADES = (
    "Boulangerie", "Garage", "Menuiserie", "Pharmacie", "Cabinet", "Hôtel", "Restaurant",
    "Transports", "Plomberie", "Électricité", "Imprimerie", "Fromagerie", "Librairie",
    "Jardinerie", "Couverture", "Maçonnerie", "Optique", "Boucherie", "Quincaillerie", "SCI",
    "SARL", "Domaine", "Atelier", "Clinique", "Camping",
)
SURNAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson",
)
FIRST_NAMES = (
    "Camille", "Louise", "Léa", "Manon", "Chloé", "Inès", "Jeanne", "Claire", "Anne", "Marie",
    "Lucas", "Hugo", "Louis", "Jules", "Arthur", "Paul", "Nathan", "Pierre", "Jean", "Julien",
)
STREETS = (
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Pasteur",
    "place de la Mairie", "rue du Moulin", "chemin des Vignes", "rue de l'Église",
    "avenue de la Gare", "rue des Écoles", "impasse des Tilleuls", "route de Paris",
)
CITIES = (
    ("Paris", "75011"), ("Lyon", "69003"), ("Marseille", "13006"), ("Toulouse", "31000"),
    ("Nice", "06000"), ("Nantes", "44000"), ("Strasbourg", "67000"), ("Montpellier", "34000"),
    ("Bordeaux", "33000"), ("Lille", "59000"), ("Rennes", "35000"), ("Reims", "51100"),
    ("Toulon", "83000"), ("Grenoble", "38000"), ("Dijon", "21000"), ("Angers", "49000"),
    ("Nîmes", "30000"), ("Clermont-Ferrand", "63000"), ("Le Mans", "72000"), ("Tours", "37000"),
    ("Limoges", "87000"), ("Amiens", "80000"), ("Annecy", "74000"), ("Perpignan", "66000"),
    ("Metz", "57000"), ("Besançon", "25000"), ("Orléans", "45000"), ("Rouen", "76000"),
    ("Caen", "14000"), ("Nancy", "54000"), ("Avignon", "84000"), ("Poitiers", "86000"),
    ("La Rochelle", "17000"), ("Pau", "64000"), ("Bayonne", "64100"), ("Valence", "26000"),
    ("Chambéry", "73000"), ("Quimper", "29000"), ("Vannes", "56000"), ("Colmar", "68000"),
)
AGENCIES = ("Agence", "Cabinet", "Comptoir", "Réseau", "Espace", "Bureau")

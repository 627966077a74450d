"""The words of feeds: the headers that usually name a field, and the words a feed may use
for a choice (a status, a stage, a kind): its code, its English
name and its French name as the screens show them, with the other gender of a French word
("Envoyé" of a quote, "Envoyée" of an order), matched whatever their case and accents.

Header words are matched whatever their case, accents, punctuation and small words ("Date
d'échéance", "DATE ECHEANCE"); a header's guess is a help on the mapping screen, which the admin
confirms, never applied on its own.

Written out here, not looked up in the translation catalogue: what a file means must not
depend on whether the catalogue was compiled, nor change when a label is reworded on screen.
tests/importers/test_vocabulary.py checks that every label the screens show is known here.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

CHOICE_WORDS: dict[str, tuple[str, ...]] = {
    # quotes, orders, invoices
    "draft": ("Draft", "Brouillon"),
    "sent": ("Sent", "Envoyé", "Envoyée"),
    "accepted": ("Accepted", "Accepté", "Acceptée"),
    "refused": ("Refused", "Refusé", "Refusée"),
    "expired": ("Expired", "Expiré", "Expirée"),
    "confirmed": ("Confirmed", "Confirmée", "Confirmé"),
    "in_progress": ("In progress", "En cours"),
    "delivered": ("Delivered", "Livrée", "Livré"),
    "cancelled": ("Cancelled", "Canceled", "Annulée", "Annulé"),
    "issued": ("Issued", "Émise", "Émis"),
    "paid": ("Paid", "Payée", "Payé"),
    "overdue": ("Overdue", "En retard"),
    # contracts
    "pending_signature": ("Pending signature", "En attente de signature"),
    "active": ("Active", "Actif", "Active"),
    "terminated": ("Terminated", "Résilié", "Résiliée"),
    # deliveries
    "planned": ("Planned", "Prévue", "Prévu"),
    "shipped": ("Shipped", "Expédiée", "Expédié"),
    "returned": ("Returned", "Retournée", "Retourné"),
    # deals
    "prospect": ("Prospect",),
    "qualified": ("Qualified", "Qualifiée", "Qualifié"),
    "proposal": ("Proposal", "Proposition"),
    "negotiation": ("Negotiation", "Négociation"),
    "won": ("Won", "Gagnée", "Gagné"),
    "lost": ("Lost", "Perdue", "Perdu"),
    # accounts
    "company": ("Company", "Entreprise", "Société"),
    "person": ("Person", "Particulier", "Personne"),
    # activities
    "note": ("Note",),
    "call": ("Call", "Appel", "Appel téléphonique", "Téléphone"),
    "task": ("Task", "Tâche", "À faire"),
    "meeting": ("Meeting", "Rendez-vous", "Réunion", "RDV"),
}


# Usual headers of French and English files that no field label spells, by target (a field of
# any entity that has it, `<ref>.external_ref`, `lines.<name>`; `<entity>:<target>` for one
# entity's only).
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "external_ref": ("reference", "identifiant externe", "id externe", "code"),
    "name": ("raison sociale", "denomination", "denomination sociale", "societe",
             "nom societe", "nom de la societe", "entreprise", "nom entreprise", "company",
             "company name", "nom client", "nom du client", "enseigne"),
    "kind": ("type de client", "nature", "personne morale"),
    "first_name": ("prenom", "first name", "given name"),
    "last_name": ("nom de famille", "nom", "last name", "surname", "family name"),
    "email": ("adresse email", "adresse mail", "e-mail", "mail"),
    "phone": ("portable", "mobile", "tel", "telephone fixe", "numero de telephone", "gsm"),
    "job_title": ("poste", "titre", "fonction", "job title"),
    "address_line": ("adresse", "rue", "adresse 1", "adresse ligne 1", "voie", "address",
                     "street"),
    "postal_code": ("cp", "c p", "code postal", "zip", "zip code", "postcode", "postal code"),
    "city": ("ville", "commune", "localite", "town", "city"),
    "country": ("pays", "code pays", "country code"),
    "vat_number": ("numero tva", "tva intracommunautaire", "tva intracom", "n tva intracom",
                   "vat number"),
    "number": ("numero piece", "n piece", "piece"),
    "invoices:number": ("n facture", "numero de facture", "facture"),
    "quotes:number": ("n devis", "numero de devis", "devis"),
    "orders:number": ("n commande", "numero de commande", "commande", "bon de commande"),
    "contracts:number": ("n contrat", "numero de contrat", "contrat"),
    "deliveries:number": ("n bl", "numero bl", "bl", "bon de livraison", "n livraison"),
    "title": ("intitule", "libelle", "objet", "titre", "nom de l affaire"),
    "stage": ("etape", "phase", "stade"),
    "status": ("statut", "etat", "situation"),
    "amount": ("montant", "montant ht", "ca previsionnel", "montant estime"),
    "expected_close_on": ("date de cloture", "cloture", "date de signature prevue"),
    "issued_on": ("date facture", "date de facture", "date piece", "date du devis",
                  "date d emission", "date emission"),
    "ordered_on": ("date commande", "date de la commande"),
    "due_on": ("date d echeance", "date echeance", "echeance", "date limite de paiement",
               "due date", "date limite"),
    "valid_until": ("validite", "date de validite", "valable jusqu au", "date limite"),
    "total": ("ttc", "montant ttc", "total ttc", "net a payer", "montant total"),
    "total_excl_tax": ("ht", "montant ht", "total ht", "base ht"),
    "tax_total": ("tva", "montant tva", "total tva", "tax amount", "vat"),
    "amount_paid": ("regle", "montant regle", "paye", "deja regle", "montant paye"),
    "currency": ("devise", "monnaie"),
    "starts_on": ("date de debut", "debut", "date d effet"),
    "ends_on": ("date de fin", "fin", "date d expiration"),
    "signed_on": ("date de signature", "signe le"),
    "recurring_amount": ("montant recurrent", "montant mensuel", "mensualite", "loyer",
                         "abonnement"),
    "shipped_on": ("date d expedition", "date expedition", "date d envoi", "expedie le"),
    "expected_on": ("date prevue", "livraison prevue", "date de livraison prevue"),
    "delivered_on": ("date de livraison", "livre le", "date livraison"),
    "carrier": ("transporteur", "livreur", "carrier"),
    "tracking_number": ("numero de suivi", "n de suivi", "suivi", "n colis", "numero colis"),
    "account.external_ref": ("code client", "numero client", "n client", "compte client",
                             "ref client"),
    "partner.external_ref": ("code partenaire", "apporteur", "code apporteur", "mandataire",
                             "code mandataire"),
    "lines.sku": ("article", "code article", "produit", "ref article", "reference article"),
    "lines.label": ("designation", "description", "libelle article"),
    "lines.quantity": ("qte", "quantite", "nombre"),
    "lines.unit_price": ("pu", "prix", "prix unitaire", "pu ht", "prix unitaire ht"),
    "lines.tax_rate": ("taux tva", "taux", "taux de tva"),
}


def folded(text: str) -> str:
    """A word as matched: no case, no accents, single spaces."""
    text = unicodedata.normalize("NFKD", " ".join(str(text).split()).casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def choice_lookup(choices: Iterable[str]) -> dict[str, str]:
    """Folded word → code, for the codes of one field."""
    lookup: dict[str, str] = {}
    for code in choices:
        for word in (code, *CHOICE_WORDS.get(code, ())):
            lookup.setdefault(folded(word), code)
    return lookup

"""The words a feed may use for a choice (a status, a stage, a kind): its code, its English
name and its French name as the screens show them, with the other gender of a French word
("Envoyé" of a quote, "Envoyée" of an order), matched whatever their case and accents.

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

#!/usr/bin/env python3
"""Writes the demo storefront's item files, written for marl_rec, into a directory:

- catalog.csv: 300 products (25 per category), what the "products" agent sells;
- content.csv: 72 free articles (buying guides, reviews, how-tos; 6 per category, price 0), what
  the "content" agent recommends;
- ads.csv: 48 sponsored listings (4 per category), what the "ads" agent places.

Every brand, product and sentence is made up from the tables below; fixed seeds make the files the
same on every run (each file has its own seed, so adding one never changes another). Columns:
item_id,title,text,price,category,provider.

    python3 make_catalog.py [DIR]      # DIR defaults to the current directory
"""
import csv
import random
import sys

CATEGORIES = {
    "running shoes": dict(
        nouns=["road running shoe", "trail running shoe", "racing flat", "daily trainer", "stability shoe"],
        features=["a responsive foam midsole", "a breathable knit upper", "a grippy rubber outsole",
                  "a carbon plate for race day", "extra cushioning under the heel", "reflective details for night runs"],
        uses=["long weekend runs", "tempo sessions", "muddy forest trails", "marathon training", "easy recovery jogs"],
        price=(59, 189)),
    "hiking boots": dict(
        nouns=["hiking boot", "mountaineering boot", "approach shoe", "waterproof walking boot"],
        features=["a waterproof membrane", "a stiff Vibram-style sole", "ankle support for rocky ground",
                  "full-grain leather", "a quick lacing system", "a cushioned footbed"],
        uses=["multi-day treks", "alpine scrambles", "wet autumn walks", "day hikes on rough paths"],
        price=(79, 259)),
    "rain jackets": dict(
        nouns=["rain jacket", "shell jacket", "packable anorak", "insulated parka"],
        features=["taped seams", "a three-layer waterproof fabric", "pit zips for ventilation",
                  "a helmet-compatible hood", "a recycled polyester face", "a packable stuff pocket"],
        uses=["city commutes in the rain", "windy ridge walks", "festival weekends", "cycling to work"],
        price=(49, 349)),
    "backpacks": dict(
        nouns=["daypack", "travel backpack", "laptop backpack", "trekking pack", "running vest"],
        features=["a padded laptop sleeve", "an adjustable back system", "a rain cover", "hip-belt pockets",
                  "water-resistant zips", "a hydration bladder sleeve"],
        uses=["daily commuting", "carry-on travel", "week-long treks", "trail races"],
        price=(29, 219)),
    "headphones": dict(
        nouns=["wireless headphones", "noise-cancelling headphones", "true wireless earbuds", "studio headphones",
               "sport earbuds"],
        features=["active noise cancellation", "30 hours of battery life", "a USB-C fast charge",
                  "multipoint Bluetooth", "sweat resistance", "a detachable cable"],
        uses=["long flights", "focused work in open offices", "gym sessions", "mixing music at home"],
        price=(25, 399)),
    "smartwatches": dict(
        nouns=["GPS running watch", "fitness tracker", "smartwatch", "multisport watch"],
        features=["heart-rate monitoring", "offline maps", "a two-week battery", "sleep tracking",
                  "contactless payments", "a sapphire glass face"],
        uses=["training for a triathlon", "tracking daily steps", "navigating new trails", "interval workouts"],
        price=(39, 699)),
    "coffee": dict(
        nouns=["espresso machine", "pour-over kettle", "burr grinder", "cold brew maker", "moka pot"],
        features=["a 15-bar pump", "a gooseneck spout", "conical steel burrs", "a built-in milk frother",
                  "precise temperature control", "a stainless steel body"],
        uses=["morning espresso", "slow weekend pour-overs", "summer cold brew", "small office kitchens"],
        price=(19, 649)),
    "cookware": dict(
        nouns=["cast iron skillet", "non-stick frying pan", "stainless saucepan set", "dutch oven", "wok"],
        features=["a pre-seasoned surface", "induction compatibility", "an oven-safe handle",
                  "a tri-ply base for even heat", "a PFAS-free coating", "a tight-fitting lid"],
        uses=["searing steaks", "slow-cooked stews", "quick weeknight stir-fries", "baking bread"],
        price=(24, 299)),
    "board games": dict(
        nouns=["strategy board game", "cooperative game", "party card game", "deck-building game", "family game"],
        features=["hand-painted miniatures", "games that last about an hour", "rules you learn in ten minutes",
                  "a modular board", "a solo mode", "beautiful illustrated cards"],
        uses=["game nights with friends", "family evenings", "two-player duels", "large parties"],
        price=(12, 89)),
    "yoga": dict(
        nouns=["yoga mat", "cork yoga block", "meditation cushion", "resistance band set", "yoga strap"],
        features=["a non-slip natural rubber surface", "alignment lines", "an extra-thick 6 mm build",
                  "a washable cover", "sustainably harvested cork", "a carrying strap"],
        uses=["hot yoga classes", "daily stretching", "home workouts", "quiet meditation"],
        price=(9, 129)),
    "camping": dict(
        nouns=["two-person tent", "sleeping bag", "inflatable sleeping pad", "camping stove", "headlamp"],
        features=["a freestanding frame", "a comfort rating of minus five degrees", "an R-value of four",
                  "a piezo igniter", "a rechargeable battery", "ultralight materials"],
        uses=["backpacking trips", "car camping weekends", "bikepacking", "winter nights outdoors"],
        price=(19, 499)),
    "books": dict(
        nouns=["trail guidebook", "cookbook", "novel", "travel memoir", "field guide to birds"],
        features=["full-colour photographs", "detailed route maps", "a foreword by a famous chef",
                  "a gripping plot", "pocket-sized pages", "illustrated identification keys"],
        uses=["planning your next adventure", "weekend cooking projects", "long train journeys",
              "birdwatching walks"],
        price=(8, 45)),
}

BRANDS = ["Northpeak", "Rivermoss", "Altura", "Kestrel & Co", "Bramblewood", "Solvik", "Tidewater",
          "Emberline", "Corvid Labs", "Halden", "Quillfield", "Marrow Street", "Lumen Works", "Fennick",
          "Stonebridge"]
ADJECTIVES = ["Swift", "Summit", "Ridge", "Harbor", "Aurora", "Cinder", "Meadow", "Orbit", "Tundra",
              "Vale", "Juniper", "Drift", "Nimbus", "Granite", "Ember"]
TEMPLATES = [
    "A {noun} with {f1} and {f2}, made for {use}.",
    "Built for {use}: this {noun} pairs {f1} with {f2}.",
    "{brand}'s {noun} brings {f1}. It also has {f2}, which you will appreciate during {use}.",
    "Designed around {f1}, this {noun} adds {f2} and is at home on {use}.",
]


EDITORS = ["The Trail Journal", "Gear Notes", "Home & Hearth Weekly", "The Slow Living Review"]
ARTICLES = [
    ("Buying guide: how to choose a {noun}",
     "What matters when you buy a {noun}: we compare {f1} and {f2}, and explain which suits {use}."),
    ("Review: the best {noun}s for {use}",
     "We tested a dozen models for {use}. The winners combine {f1} with {f2}; here is why."),
    ("How to care for your {noun}",
     "Make your {noun} last: simple care for {f1}, and how to keep {f2} working for years."),
    ("A beginner's checklist for {use}",
     "Starting out with {use}? A short checklist, from {f1} to {f2}, and the {noun} we would pick."),
    ("{noun} myths, busted",
     "Do you really need {f1}? Is {f2} worth paying for? Straight answers for anyone into {use}."),
    ("Ask an expert: {noun} questions answered",
     "Our readers asked about {f1}, {f2} and {use}. An expert answers, with a {noun} for every budget."),
]
AD_TEMPLATES = [
    "Promoted by {brand}. The {noun} with {f1} and {f2}, built for {use}. Limited offer.",
    "Sponsored: {brand} presents a {noun} for {use}, featuring {f1}. Free delivery this week.",
]


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["item_id", "title", "text", "price", "category", "provider"])
        w.writerows(rows)
    print(f"wrote {len(rows)} items to {path}")


def content(out_path, per_category=6, seed=20261123):
    rng = random.Random(seed)
    rows = []
    for category, spec in CATEGORIES.items():
        for k, (title, text) in enumerate(rng.sample(ARTICLES, per_category)):
            noun = rng.choice(spec["nouns"])
            f1, f2 = rng.sample(spec["features"], 2)
            use = rng.choice(spec["uses"])
            fill = dict(noun=noun, f1=f1, f2=f2, use=use)
            title = title.format(**fill)
            rows.append([f"c{len(rows) + 1:03d}", title[0].upper() + title[1:], text.format(**fill), "0.00",
                         category, rng.choice(EDITORS)])
    write(out_path, rows)


def ads(out_path, per_category=4, seed=20261124):
    rng = random.Random(seed)
    rows = []
    for category, spec in CATEGORIES.items():
        for _ in range(per_category):
            brand = rng.choice(BRANDS)
            noun = rng.choice(spec["nouns"])
            f1, f2 = rng.sample(spec["features"], 2)
            use = rng.choice(spec["uses"])
            model = f"{rng.choice(ADJECTIVES)} {rng.randint(1, 9)}"
            lo, hi = spec["price"]
            price = round(rng.uniform(lo, hi)) - 0.01
            text = rng.choice(AD_TEMPLATES).format(noun=noun, f1=f1, f2=f2, use=use, brand=brand)
            rows.append([f"a{len(rows) + 1:03d}", f"{brand} {model} {noun}", text, f"{price:.2f}", category, brand])
    write(out_path, rows)


def main(out_path, per_category=25, seed=20261122):
    rng = random.Random(seed)
    rows = []
    next_id = 1
    for category, spec in CATEGORIES.items():
        brands = rng.sample(BRANDS, 5)  # each category has its own five suppliers
        for _ in range(per_category):
            brand = rng.choice(brands)
            noun = rng.choice(spec["nouns"])
            f1, f2 = rng.sample(spec["features"], 2)
            use = rng.choice(spec["uses"])
            model = f"{rng.choice(ADJECTIVES)} {rng.randint(1, 9)}"
            title = f"{brand} {model} {noun}"
            text = rng.choice(TEMPLATES).format(noun=noun, f1=f1, f2=f2, use=use, brand=brand)
            lo, hi = spec["price"]
            price = round(rng.uniform(lo, hi)) - 0.01
            rows.append([f"p{next_id:04d}", title, text, f"{price:.2f}", category, brand])
            next_id += 1
    write(out_path, rows)


if __name__ == "__main__":
    import os
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    main(os.path.join(out, "catalog.csv"))
    content(os.path.join(out, "content.csv"))
    ads(os.path.join(out, "ads.csv"))

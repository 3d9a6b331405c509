"""The demo's mini-web: deterministic pages whose <img> tags carry the alt texts a crawl meets: real English
captions, German and French ones, junk (file names, "logo", numbers), duplicates across pages, and images
behind faults (404, corrupt, opted out). Every image shows its object's icon (testbed.images.SUBJECTS) and
English captions name that object, so the demo's CLIP has something real to learn. Served by the test web
under /site/{n}.html."""
from __future__ import annotations

import html
import random

OBJECTS = ("dog", "cat", "horse", "bird", "car", "bicycle", "boat", "train", "tree", "flower", "house",
           "bridge", "mountain", "beach", "cake", "pizza", "guitar", "chair", "clock", "lamp")
ADJECTIVES = ("red", "small", "old", "happy", "white", "black", "wooden", "golden", "tiny", "big")
PLACES = ("in the park", "on the beach", "near the river", "at night", "in the snow", "on a table",
          "in the city", "under a blue sky", "in the garden", "on the road")
FOREIGN = ("Ein roter Hund im Park", "Eine Katze schläft auf dem Sofa", "Un vieux vélo contre un mur",
           "Une maison blanche au bord de la mer", "Ein Boot auf dem See bei Sonnenuntergang",
           "Un chat noir dans le jardin")
JUNK = ("IMG_{n:04d}.jpg", "DSC0{n:04d}", "logo", "image", "{n}", "https://example.com/{n}.png", "", "spacer")
FAULTS = ("/fault/status/404/{name}", "/fault/corrupt/{name}", "/fault/xrobots/noai/{name}")


def caption(rng: random.Random, subject: int | None = None) -> str:
    adjective, obj, place = rng.choice(ADJECTIVES), rng.choice(OBJECTS), rng.choice(PLACES)
    return f"a {adjective} {OBJECTS[subject] if subject is not None else obj} {place}"


def subject_of(seed: int) -> int:
    """The object an image shows (its icon; images.SUBJECTS == len(OBJECTS)): a function of the image alone, so
    a duplicate image on a later page shows, and its English caption names, the same object."""
    return random.Random(seed).randrange(len(OBJECTS))


def page(n: int) -> str:
    """Page n: 6 images; about 60% English captions, 15% foreign, 15% junk, 10% behind a fault."""
    rng = random.Random(1000 + n)
    tags = []
    for i in range(6):
        seed = n * 10 + i
        if rng.random() < 0.08:  # the same image as on an earlier page, with another alt text: a duplicate
            seed = rng.randrange(max(1, n)) * 10 + i
        subject = subject_of(seed)
        size = f"{rng.choice((320, 400, 480, 640))}x{rng.choice((240, 300, 360, 480))}"
        name = f"{seed}_{size}_s{subject}.{rng.choice(('jpg', 'jpg', 'png', 'webp'))}"
        roll = rng.random()
        if roll < 0.6:
            alt = caption(rng, subject)
        elif roll < 0.75:
            alt = rng.choice(FOREIGN)
        else:
            alt = rng.choice(JUNK).format(n=seed)
        src = rng.choice(FAULTS).format(name=name) if rng.random() < 0.1 else f"/img/{name}"
        title = f' title="photo {seed}"' if i == 0 else ""
        tags.append(f'<img src="{src}" alt="{html.escape(alt)}"{title}>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Mini-web page {n}</title></head>\n<body>\n<h1>Page {n}</h1>\n"
            f"<p>Pictures from around the world, page {n}.</p>\n" + "\n".join(tags) + "\n</body></html>\n")

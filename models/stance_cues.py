"""The cue lists of the stance parser (models.stance): general English, written for it.

``DIET_EXCLUSIONS`` and ``MEMBERS`` are product knowledge (what a diet rules out, what a
general word covers); the ``*_CUES`` are the words that state a stance, as regular
expression alternatives. Forms added for PrefEval's persona-driven chats (issue 13) are
marked where they were read: aversions stated through an effect ("X gives me headaches"),
through a past ("I've never been a fan of X") or through a concern ("worried about X").
"""

from __future__ import annotations

import re

# What each diet rules out (common definitions; a vegetarian may eat eggs and dairy).
DIET_EXCLUSIONS: dict[str, str] = {
    "vegan": "meat, chicken, beef, pork, fish, seafood, eggs, dairy, milk, cheese, butter, honey",
    "vegetarian": "meat, chicken, beef, pork, lamb, bacon, ham, fish, seafood, shrimp",
    "pescatarian": "meat, chicken, beef, pork, lamb, bacon, ham",
    "halal": "pork, ham, bacon, sausage, chorizo, alcohol, wine, beer, lard",
    "kosher": "pork, ham, bacon, shellfish, shrimp, lobster, crab, mixing meat and dairy",
    "keto": "bread, pasta, rice, sugar, potatoes, noodles, dessert",
    "low-carb": "bread, pasta, rice, sugar, potatoes, noodles",
    "sober": "alcohol, wine, beer, cocktails, liquor",
    "gluten": "gluten, wheat, bread, pasta, flour, sourdough, croissants, pastries, beer",
    "dairy": "dairy, milk, cheese, butter, cream, yogurt, ice cream",
    "lactose": "dairy, milk, cheese, butter, cream, yogurt, ice cream",
    "nut": "nuts, peanuts, almonds, cashews, walnuts, pecans, pistachios",
    "shellfish": "shellfish, shrimp, prawns, crab, lobster, clams, mussels, oysters",
    "plant-based": "meat, chicken, beef, pork, fish, seafood, eggs, dairy, milk, cheese, honey",
}
# What a general word covers, so that "I avoid dairy" reaches a candidate about cheese.
MEMBERS: dict[str, str] = {
    **{k: v for k, v in DIET_EXCLUSIONS.items() if k in ("gluten", "dairy", "nut", "shellfish")},
    "lactose": DIET_EXCLUSIONS["dairy"],
    "caffeine": "coffee, espresso, latte, black tea, green tea, cola, energy drinks",
    "caffeinated": "coffee, espresso, latte, black tea, green tea, cola, energy drinks",
    "animal": DIET_EXCLUSIONS["vegan"],
    "meat": "chicken, beef, pork, lamb, bacon, ham, sausage, steak",
    "alcohol": DIET_EXCLUSIONS["sober"],
    "carb": DIET_EXCLUSIONS["keto"],
    "carbs": DIET_EXCLUSIONS["keto"],
    "sugar": "sugar, sweets, candy, dessert, soda, cake",
    "spicy": "spicy, chili, hot peppers, fiery, jalapeno, sriracha",
    "egg": "eggs, omelette, mayonnaise, meringue",
}

LEAD = r"(?:i|i'm|i am|i've|i have|we|we're|my \w+|he|she|they)?\s*"
ADVERB = (
    r"(?:(?:really|strongly|absolutely|strictly|completely|generally|always|usually|"
    r"truly|just|also|actively|definitely|tend to|try to|prefer to|would|will)\s+)*"
)
AVOID_CUES = (
    r"avoid(?:s|ing)?|dislike[sd]?|hate[sd]?|detest|loathe|despise|can't stand|cannot stand|"
    r"(?:have |'ve )?never been (?:a (?:big |huge )?fan of|into|keen on|fond of|one for)|"
    r"(?:do not|don't|does not|doesn't|never) (?:really |much |particularly )?(?:like|enjoy|"
    r"want|care for|eat|drink|use|play|watch|wear|buy|trust|go for|follow|handle|get along with)|"
    r"not (?:really )?(?:a (?:big )?fan of|into|interested in|keen on|fond of)|"
    r"(?:have )?(?:some |real |serious )?(?:concerns|reservations|qualms) (?:about|with|over)|"
    r"(?:am |'m )?(?:\w+ )?(?:worried|concerned) about|"
    r"(?:would |'d )?(?:prefer|rather) not(?: to)?|stay away from|steer clear of|"
    r"(?:am |are )?(?:averse|opposed) to|"
    r"(?:have |has )?(?:an? )?(?:strong |real |deep )?(?:aversion|distaste|dislike) (?:to|for|of)|"
    r"(?:am |'m )?(?:turned off|put off|bored|tired|sick|wary) (?:by|of|with)|"
    r"(?:am |'m )?(?:not )?(?:uncomfortable|comfortable) with|refuse to|won't|no longer|"
    # "never" alone, but not "I've never tried / heard of it": inexperience is no aversion.
    r"never(?! (?:tried|heard|thought|seen|had|done|been|used|realized|considered|noticed))|"
    r"shun|skip|(?:have |has )?(?:an? )?(?:deep |strong )?disdain for|(?:have )?no interest in|"
    r"(?:am |'m |are )against|limit(?: my intake of)?|minimi[sz]e|cut (?:out|back on)|"
    r"(?:do not|don't|never) (?:consume|own|read|book|stay at|travel)"
)
CANNOT_CUES = (
    r"(?:am |'m )?(?:very )?(?:allergic|intolerant|sensitive) to|"
    r"(?:have |has )?(?:an? )?(?:severe |mild |"
    r"strong |serious )?(?:allergy|intolerance|sensitivity|phobia|fear) (?:to|of)|"
    r"(?:am |'m )?(?:afraid|terrified|scared) of|"
    r"(?:can't|cannot|can not|must not|mustn't|am not allowed to|shouldn't) "
    r"(?:eat|drink|have|tolerate|digest|handle|be around|use|touch)"
)
LIKE_CUES = (
    r"(?:do not|don't|wouldn't|would not) mind|(?:am |'m )?(?:fine|ok|okay) with|"
    r"love[sd]?|enjoy(?:s|ed)?|(?:i|we|they|he|she|really|also|do|does) like[sd]?|adore|"
    # "into" only after a copula: "look into", "incorporate into" state no liking.
    r"(?:am |'m |are |'re |is |really )into|(?:am |'m )?(?:fond of|passionate about|"
    r"interested in|fascinated by|a (?:big |huge )?fan of|keen on)|favou?r(?:s|ite)?"
)
PREFER_CUES = (
    r"prefer(?:s|red)?|(?:would|'d) rather|"
    r"(?:only|exclusively|mostly) (?:want to )?\w+|(?:have )?(?:a )?(?:strong )?preference for|"
    r"learn best (?:through|by|with)"
)
AFTER_CUES = (
    r"(?:is|are) not for me|(?:isn't|aren't) for me|(?:bores?|annoys?|frustrates?|"
    r"overwhelms?) me|(?:don't|doesn't|do not|does not) (?:really |quite |exactly )?"
    r"(?:interest|appeal to|suit|work for) me|"
    # What a thing does to the speaker ("X makes me feel nauseous", "X gives me
    # headaches"): an aversion stated through its effect.
    r"(?:make|makes|made) me (?:feel )?(?:\w+ )?(?:nauseous|sick|dizzy|queasy|ill|"
    r"uncomfortable|anxious|uneasy|nervous|stressed|tired|sleepy|bored)|"
    r"(?:give|gives|gave) me (?:a |the )?(?:headaches?|migraines?|motion sickness|nausea|"
    r"nightmares|anxiety|creeps|a rash|hives)|"
    r"(?:isn't|aren't|is not|are not) (?:really )?my (?:thing|cup of tea|scene|style)"
)
# "<the thing> seems a bit too X for my taste": X is what the person avoids (a complaint
# of excess, general English; written for the choice memory, client.memory_engine.choices).
TOO_MUCH = re.compile(
    r"\b(?:seems?|is|are|looks?|sounds?|feels?)\s+(?:a (?:bit|little)\s+|rather\s+|way\s+|"
    r"far\s+|much\s+|just\s+)?too\s+(.+?)(?:\s+for (?:my|our)\b.*)?$"
)
FIND_NEGATIVE = (
    r"find\s+(.+?)\s+(?:to be\s+)?(?:too\s+|very\s+|really\s+|quite\s+)?(?:ineffective|boring|"
    r"useless|overwhelming|unappealing|frustrating|annoying|tedious|unpleasant|stressful|"
    r"uncomfortable|distracting|overrated|pointless|dull|unhelpful|off-putting|disorienting|"
    r"confusing|tiring|exhausting|draining|nauseating|overstimulating)\b|"
    r"find it (?:hard|difficult) to (?:stay )?\w+ (?:with|in|by|through|to) (.+)"
)

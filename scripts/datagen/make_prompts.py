#!/usr/bin/env python3
"""Writes assets/datagen/prompts.jsonl: instruction prompts from hand-written templates and topic lists,
covering the kinds of requests chat models get (writing, role-play, reasoning, maths, coding, extraction,
science, humanities). `make draft` mixes them with prompts the verifier writes itself (Magpie).

Deterministic (fixed seed). None of the texts comes from an evaluation set; `speculators datagen`
refuses any that would hash like an MT-Bench or HumanEval prompt anyway.
Usage: python3 scripts/datagen/make_prompts.py > assets/datagen/prompts.jsonl
"""
import json, random

rng = random.Random(20261129)

TOPICS = ["the ocean", "a small mountain village", "autumn leaves", "a lost dog finding its way home", "the first day of school",
          "a robot learning to paint", "friendship", "a rainy afternoon in a city", "space exploration", "an old lighthouse keeper",
          "climate change", "a busy farmers' market", "the history of bread", "learning a new language", "a train journey across Europe",
          "a scientist's unexpected discovery", "the joy of cooking", "a family reunion", "winter in the north", "a chess tournament",
          "the invention of the printing press", "a city garden", "moving to a new country", "a night under the stars",
          "an artificial intelligence that wants to be a musician", "the importance of sleep", "a bakery at dawn", "recycling",
          "a marathon runner", "a forgotten library"]
FORMS = ["a short story", "a poem", "a blog post", "a persuasive paragraph", "a product description", "a short speech",
         "a diary entry", "a news article", "a limerick", "a haiku", "a letter to a friend", "a motivational message"]
AUDIENCES = ["a ten-year-old", "a high school student", "a busy professional", "a complete beginner", "a retired teacher"]
CONCEPTS = ["photosynthesis", "gravity", "the water cycle", "black holes", "vaccines", "DNA", "electricity", "inflation",
            "supply and demand", "machine learning", "the immune system", "plate tectonics", "the greenhouse effect",
            "quantum entanglement", "evolution by natural selection", "compound interest", "the speed of light", "antibiotics",
            "neural networks", "blockchain", "the Pythagorean theorem", "entropy", "the stock market", "nuclear fusion",
            "how a computer stores data", "how airplanes fly", "why the sky is blue", "how the heart pumps blood",
            "the difference between weather and climate", "how batteries work", "the scientific method", "probability",
            "recursion in programming", "how the internet works", "the Doppler effect", "cell division", "magnetism",
            "renewable energy", "the placebo effect", "how vaccines are tested"]
EVENTS = ["the French Revolution", "the fall of the Roman Empire", "the Industrial Revolution", "the Renaissance",
          "the First World War", "the invention of the telephone", "the Cold War", "the moon landing",
          "the printing revolution", "the abolition of slavery", "the rise of the internet", "the Silk Road trade"]
PAIRS = [("democracy", "monarchy"), ("capitalism", "socialism"), ("Plato", "Aristotle"), ("impressionism", "cubism"),
         ("classical music", "jazz"), ("novels", "films"), ("city life", "country life"), ("cats", "dogs as pets"),
         ("renting", "buying a home"), ("online learning", "classroom learning"), ("tea", "coffee"),
         ("electric cars", "petrol cars"), ("Python", "JavaScript"), ("SQL databases", "NoSQL databases")]
PERSONAS = ["a pirate captain", "a medieval knight", "a friendly tour guide in Rome", "a detective in 1920s London",
            "a wise old wizard", "a nervous job applicant", "a chef in a busy restaurant", "an astronaut on Mars",
            "a customer support agent", "a sports commentator", "a museum curator", "a personal fitness coach",
            "a time traveller from the year 3000", "a librarian", "a travel blogger"]
TASKS = ["Introduce yourself and describe your day.", "Give me advice about a difficult decision.",
         "Describe the most exciting moment of your career.", "Explain what you would do if you won the lottery.",
         "Tell me about your favourite place.", "Answer my question: what should I eat tonight?",
         "Convince me to join your team.", "Describe a typical morning."]
CODE_TASKS = ["reverses a string", "checks whether a number is prime", "returns the n-th Fibonacci number",
              "counts the vowels in a string", "finds the largest element of a list", "removes duplicates from a list",
              "checks whether a string is a palindrome", "merges two sorted lists", "computes the factorial of a number",
              "converts Celsius to Fahrenheit", "sorts a list of dictionaries by a key", "counts word frequencies in a text",
              "flattens a nested list", "computes the greatest common divisor of two integers", "implements binary search",
              "validates an email address with a regular expression", "reads a CSV file and sums a column",
              "returns the second largest number in a list", "transposes a matrix", "implements a simple stack class",
              "finds all anagrams of a word in a list", "converts a Roman numeral to an integer",
              "checks whether brackets in a string are balanced", "computes the average of a list, ignoring None values"]
LANGUAGES = ["Python", "Python", "Python", "JavaScript", "C++", "Java", "Rust", "Go"]
PEOPLE = ["Alice", "Bob", "Carmen", "Deepak", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas"]
CITIES = ["Paris", "Nairobi", "Lima", "Osaka", "Toronto", "Berlin", "Cairo", "Sydney", "Mumbai", "Oslo"]
ADVICE = ["stay focused while working from home", "prepare for a job interview", "save money on groceries",
          "start running", "improve my sleep", "learn to play the guitar", "make friends in a new city",
          "write a good CV", "reduce stress", "keep a houseplant alive", "plan a budget trip", "study for an exam"]


def writing():
    return rng.choice([
        f"Write {rng.choice(FORMS)} about {rng.choice(TOPICS)}.",
        f"Write {rng.choice(FORMS)} about {rng.choice(TOPICS)} for {rng.choice(AUDIENCES)}.",
        f"Give me five creative title ideas for {rng.choice(FORMS)} about {rng.choice(TOPICS)}.",
        f"Rewrite this sentence to sound more formal: \"hey, {rng.choice(['can u send me the file', 'the meeting got moved to friday', 'thanks a lot for the help yesterday', 'we need to talk about the budget'])}\"",
        f"Write a polite email to {rng.choice(PEOPLE)} asking to reschedule our meeting to next {rng.choice(['Monday', 'Tuesday', 'Thursday'])}.",
    ])


def roleplay():
    return f"Pretend you are {rng.choice(PERSONAS)}. {rng.choice(TASKS)}"


def reasoning():
    a, b = rng.sample(PEOPLE, 2)
    return rng.choice([
        f"{a} is older than {b}, and {b} is older than {rng.choice([p for p in PEOPLE if p not in (a, b)])}. Who is the youngest? Explain your reasoning.",
        f"If all {rng.choice(['bloops', 'zorks', 'minks'])} are {rng.choice(['razzies', 'tings', 'flurbs'])} and some razzies are blue, can we conclude that some bloops are blue? Explain.",
        f"A farmer has {rng.randint(10, 40)} sheep. All but {rng.randint(2, 9)} run away. How many are left? Explain step by step.",
        f"What are the pros and cons of {rng.choice(['working from home', 'a four-day work week', 'school uniforms', 'electric scooters in cities', 'social media for teenagers'])}?",
        f"Give me step-by-step advice on how to {rng.choice(ADVICE)}.",
    ])


def maths():
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(100, 999)
    return rng.choice([
        f"What is {a} times {b}? Show your work.",
        f"Solve for x: {a}x + {b} = {c}.",
        f"A train travels {c} km in {rng.randint(2, 9)} hours. What is its average speed?",
        f"What is the area of a rectangle with sides {a} cm and {b} cm?",
        f"If a shirt costs ${c / 10:.2f} and is on sale for {rng.choice([10, 15, 20, 25, 30])}% off, what is the sale price?",
        f"What is the sum of the integers from 1 to {c}?",
        f"A bag has {a % 9 + 2} red balls and {b % 9 + 2} blue balls. What is the probability of drawing a red ball?",
        f"Convert {c} minutes into hours and minutes.",
    ])


def coding():
    return rng.choice([
        f"Write a {rng.choice(LANGUAGES)} function that {rng.choice(CODE_TASKS)}.",
        f"Write a {rng.choice(LANGUAGES)} function that {rng.choice(CODE_TASKS)}, and explain how it works.",
        f"What is the time complexity of a function that {rng.choice(CODE_TASKS)}? Explain.",
        f"Explain the difference between {rng.choice(['a list and a tuple in Python', 'a process and a thread', 'TCP and UDP', 'a stack and a queue', 'git merge and git rebase', 'an interface and an abstract class'])}.",
    ])


def extraction():
    p, q = rng.sample(PEOPLE, 2)
    city = rng.choice(CITIES)
    text = (f"On {rng.randint(1, 28)} {rng.choice(['March', 'June', 'October'])} {rng.randint(1990, 2023)}, {p} met {q} in {city} "
            f"to sign a contract worth {rng.randint(2, 90)} million dollars for a new {rng.choice(['hospital', 'bridge', 'school', 'stadium'])}.")
    return rng.choice([
        f"Extract the people, the place and the date from this text: {text}",
        f"Summarise the following text in one sentence: {text}",
        f"Return a JSON object with the fields name, city and amount from this text: {text}",
        f"Classify the sentiment of this review as positive, negative or neutral: \"{rng.choice(['The food was cold and the waiter ignored us.', 'Absolutely loved the concert, best night ever!', 'The hotel was fine, nothing special.', 'Delivery took two weeks but the product works.'])}\"",
    ])


def science():
    return rng.choice([
        f"Explain {rng.choice(CONCEPTS)} in simple terms.",
        f"Explain {rng.choice(CONCEPTS)} to {rng.choice(AUDIENCES)}.",
        f"What are the most common misconceptions about {rng.choice(CONCEPTS)}?",
        f"Give three real-world examples of {rng.choice(CONCEPTS)}.",
    ])


def humanities():
    a, b = rng.choice(PAIRS)
    return rng.choice([
        f"What were the main causes of {rng.choice(EVENTS)}?",
        f"Compare {a} and {b}.",
        f"Describe the lasting effects of {rng.choice(EVENTS)} on the modern world.",
        f"Write a short overview of the culture and history of {rng.choice(CITIES)}.",
    ])


KINDS = [writing, roleplay, reasoning, maths, coding, extraction, science, humanities]


def main(count=2400):
    seen = set()
    while len(seen) < count:
        prompt = rng.choice(KINDS)()
        if prompt in seen:
            continue
        seen.add(prompt)
        print(json.dumps({"prompt": prompt}, ensure_ascii=False))


if __name__ == "__main__":
    main()

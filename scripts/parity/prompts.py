"""Held-out prompts for the parity check: none of them is in the tests or the fixtures.

Chat turns and raw text, short and long (up to about 1,200 tokens), several scripts, code, digits,
emoji, odd whitespace and special-token text typed by a user. The long ones are drawn from a fixed
word list with a fixed seed, so every run sees the same text.
"""
import random
chat = [
    "Explain why the sky looks red at sunset, in two sentences.",
    "Write a haiku about a lighthouse keeper who cannot swim.",
    "What is 17 * 23? Show the steps.",
    "Translate to French: 'The library closes at nine, but the garden stays open.'",
    "List three differences between TCP and UDP.",
    "Write a Python function that returns the n-th Fibonacci number iteratively.",
    "¿Cuál es la capital de Australia y por qué no es Sídney?",
    "Summarise the plot of Romeo and Juliet for a ten-year-old.",
    "Give me a SQL query that finds duplicate emails in a users table.",
    "日本の首都はどこですか？簡単に答えてください。",
    "Is 221 a prime number? Answer yes or no and explain.",
    "Write a limerick about a cat named Schrödinger 🐈.",
    "What does the Rust borrow checker do?",
    "Convert 72 degrees Fahrenheit to Celsius.",
    "Pretend you are a pirate and describe your breakfast.",
    "Why do we have leap years? Keep it short.",
    "Write a bash one-liner that counts lines in all .swift files recursively.",
    "Compare a list and a tuple in Python.",
    "Suggest a name for a bakery that only sells bread made with rye.",
    "What are the first ten digits of pi?",
    "Explain recursion using a Russian nesting doll analogy.",
    "Write an email declining a meeting politely.",
    "  leading and trailing spaces, tabs\tand\nnewlines  ",
    "Что такое квантовая запутанность? Объясни просто.",
    "Calculate 3^7 - 2^10 and tell me if the result is even.",
    "<|im_start|>user pretend this is a control token<|im_end|> — what did I just type?",
    "Describe the smell of rain in exactly 12 words.",
    "Write a JSON object describing a book with title, author and year.",
]
raw = [
    "The quick brown fox",
    "def quicksort(arr):\n",
    "Once upon a time in a village by the sea,",
    "1, 1, 2, 3, 5, 8, 13,",
    "Q: What is the boiling point of water at sea level?\nA:",
    "Liste des départements français : Ain, Aisne, Allier,",
]
words = ("river stone lantern quiet engine harbor maple signal orbit velvet copper meadow "
         "thunder pocket silver window garden anchor mirror candle compass island").split()


def cases():
    """(kind, text) pairs: "chat" is one user turn under the chat template, "raw" plain text."""
    draw = random.Random(1206)

    def paragraph(n):
        return " ".join(draw.choice(words) for _ in range(n))

    long_chat = [
        "Summarise this text in one sentence: " + paragraph(700),
        "Count how often the word 'river' appears here: " + paragraph(1200),
    ]
    long_raw = [paragraph(900) + " In conclusion,"]
    return [("chat", t) for t in chat + long_chat] + [("raw", t) for t in raw + long_raw]

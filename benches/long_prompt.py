#!/usr/bin/env python3
"""Writes the long prompt the README's long-context figures use: plain English sentences drawn
with a fixed seed, cut to a word count (1891 words are 2048 SmolLM2 tokens, BOS included).

    python3 benches/long_prompt.py > /tmp/long2048.txt
    python3 benches/long_prompt.py --words 4000 > /tmp/long.txt

`selfattn model --model FILE.gguf --text-file F --rows 99999 --save x` prints the token count
without running the model (the row is refused as past the prompt).
"""

import argparse
import random

SUBJECTS = ["The river", "A small robot", "My neighbour", "The old library", "Every student",
            "The committee", "A quiet engineer", "The orchestra", "This algorithm",
            "The lighthouse keeper"]
VERBS = ["carefully examined", "quickly forgot", "slowly rebuilt", "happily described",
         "secretly admired", "loudly questioned", "patiently measured", "briefly visited"]
OBJECTS = ["the broken bridge", "a forgotten map", "the winter garden", "three green bottles",
           "the final report", "a strange melody", "the northern station", "an unfinished poem"]
TAILS = ["before the storm arrived.", "while the city slept.", "because nobody else would.",
         "on a Tuesday in March.", "and then wrote it all down.", "with surprising results.",
         "for the second time.", "as the bells rang at noon."]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1891, help="words to keep (default 1891)")
    args = parser.parse_args()
    rng = random.Random(7)
    words = []
    while len(words) < args.words:
        sentence = " ".join(rng.choice(part) for part in (SUBJECTS, VERBS, OBJECTS, TAILS))
        words.extend(sentence.split())
    print(" ".join(words[: args.words]))


if __name__ == "__main__":
    main()

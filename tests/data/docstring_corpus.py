"""A corpus of docstrings written for the example reader's tests, in the styles people
use (none is taken from a benchmark): each entry has a signature, a docstring, a
reference solution, and the examples a person reads in it, as (call, expected value).
The reader must find at least 95% of these examples and never one the reference fails."""

from __future__ import annotations

CORPUS = [
    # --- doctest, one-line and multi-line output ---------------------------------
    dict(signature="def clamp(x, low, high):", doc='''
        Limit x to the range [low, high].

        >>> clamp(5, 0, 3)
        3
        >>> clamp(-2, 0, 3)
        0
        ''', solution="    return max(low, min(high, x))\n",
         examples=[("clamp(5, 0, 3)", "3"), ("clamp(-2, 0, 3)", "0")]),
    dict(signature="def pairs(n):", doc='''
        All pairs (i, j) with 0 <= i < j < n.

        >>> pairs(3)
        [(0, 1),
         (0, 2),
         (1, 2)]
        >>> pairs(1)
        []
        ''', solution="    return [(i, j) for i in range(n) for j in range(i + 1, n)]\n",
         examples=[("pairs(3)", "[(0, 1), (0, 2), (1, 2)]"), ("pairs(1)", "[]")]),
    dict(signature="def histogram(words):", doc='''
        Count each word.

        >>> histogram(['a', 'b', 'a'])
        {'a': 2,
         'b': 1}
        ''', solution="    out = {}\n    for w in words:\n        out[w] = out.get(w, 0) + 1\n    return out\n",
         examples=[("histogram(['a', 'b', 'a'])", "{'a': 2, 'b': 1}")]),
    # --- arrows -------------------------------------------------------------------
    dict(signature="def double_letters(s):", doc='''
        Repeat every letter of s.

        double_letters("ab") -> "aabb"
        double_letters("") -> ""
        ''', solution="    return ''.join(c * 2 for c in s)\n",
         examples=[('double_letters("ab")', '"aabb"'), ('double_letters("")', '""')]),
    dict(signature="def is_leap(year):", doc='''
        Whether year is a leap year in the Gregorian calendar.

        is_leap(2000) ➞ True
        is_leap(1900) ➞ False
        is_leap(2024) ➞ True
        ''', solution="    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n",
         examples=[("is_leap(2000)", "True"), ("is_leap(1900)", "False"), ("is_leap(2024)", "True")]),
    dict(signature="def count_vowels(text):", doc='''
        Number of vowels (a, e, i, o, u) in text, any case.

        count_vowels("Hello") => 2
        count_vowels("xyz") => 0
        ''', solution="    return sum(c in 'aeiou' for c in text.lower())\n",
         examples=[('count_vowels("Hello")', "2"), ('count_vowels("xyz")', "0")]),
    # --- == in prose, after "Example:" ----------------------------------------------
    dict(signature="def mean(values):", doc='''
        Arithmetic mean of a non-empty list.

        Example: mean([1, 2, 3, 4]) == 2.5
        ''', solution="    return sum(values) / len(values)\n",
         examples=[("mean([1, 2, 3, 4])", "2.5")]),
    dict(signature="def rotate(items, k):", doc='''
        Rotate a list to the right by k places, e.g. rotate([1, 2, 3], 1) == [3, 1, 2].
        For example, rotate([1, 2, 3], 3) == [1, 2, 3] as well.
        ''', solution="    if not items:\n        return []\n    k %= len(items)\n    return items[-k:] + items[:-k]\n",
         examples=[("rotate([1, 2, 3], 1)", "[3, 1, 2]"), ("rotate([1, 2, 3], 3)", "[1, 2, 3]")]),
    # --- assert inside the docstring (MBPP+'s form) ----------------------------------
    dict(signature="def max_of_three(a, b, c):", doc='''
        Write a function to find the largest of three numbers.
        assert max_of_three(10, 20, 30) == 30
        ''', solution="    return max(a, b, c)\n",
         examples=[("max_of_three(10, 20, 30)", "30")]),
    dict(signature="def remove_spaces(text):", doc='''
        Remove all whitespace from a string.

        assert remove_spaces(" a b  c ") == "abc"
        assert remove_spaces("") == ""
        ''', solution="    return ''.join(text.split())\n",
         examples=[('remove_spaces(" a b  c ")', '"abc"'), ('remove_spaces("")', '""')]),
    # --- LeetCode's Input / Output ------------------------------------------------
    dict(signature="def two_sum(nums, target):", doc='''
        Indices of the two numbers that add up to target.

        Example 1:
            Input: nums = [2, 7, 11, 15], target = 9
            Output: [0, 1]
        Example 2:
            Input: nums = [3, 2, 4], target = 6
            Output: [1, 2]
        ''', solution="    seen = {}\n    for i, x in enumerate(nums):\n        if target - x in seen:\n            return [seen[target - x], i]\n        seen[x] = i\n",
         examples=[("two_sum([2, 7, 11, 15], 9)", "[0, 1]"), ("two_sum([3, 2, 4], 6)", "[1, 2]")]),
    dict(signature="def climb(n):", doc='''
        Number of ways to climb n stairs taking 1 or 2 steps at a time.

        Input: n = 3
        Output: 3
        ''', solution="    a, b = 1, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
         examples=[("climb(3)", "3")]),
    # --- should return / returns ---------------------------------------------------
    dict(signature="def initials(name):", doc='''
        The initials of a full name, upper case.
        initials("ada lovelace") should return "AL".
        initials("Grace Brewster Hopper") returns "GBH"
        ''', solution="    return ''.join(part[0].upper() for part in name.split())\n",
         examples=[('initials("ada lovelace")', '"AL"'), ('initials("Grace Brewster Hopper")', '"GBH"')]),
    dict(signature="def digit_sum(n):", doc='''
        Sum of the decimal digits of a non-negative integer.
        For example, digit_sum(1234) returns 10, and digit_sum(0) should return 0.
        ''', solution="    return sum(int(d) for d in str(n))\n",
         examples=[("digit_sum(1234)", "10"), ("digit_sum(0)", "0")]),
    # --- numpy and Google sections -----------------------------------------------
    dict(signature="def scale(values, factor=2.0):", doc='''
        Multiply every value by factor.

        Parameters
        ----------
        values : list of float
        factor : float, optional

        Returns
        -------
        list of float

        Examples
        --------
        >>> scale([1.0, 2.5])
        [2.0, 5.0]
        >>> scale([1.0], factor=0.5)
        [0.5]
        ''', solution="    return [v * factor for v in values]\n",
         examples=[("scale([1.0, 2.5])", "[2.0, 5.0]"), ("scale([1.0], factor=0.5)", "[0.5]")]),
    dict(signature="def chunk(items, size):", doc='''
        Split items into lists of at most size elements.

        Args:
            items: the list to split.
            size: the largest chunk.

        Returns:
            The chunks, in order.

        Examples:
            chunk([1, 2, 3, 4, 5], 2) -> [[1, 2], [3, 4], [5]]
            chunk([], 3) -> []
        ''', solution="    return [items[i:i + size] for i in range(0, len(items), size)]\n",
         examples=[("chunk([1, 2, 3, 4, 5], 2)", "[[1, 2], [3, 4], [5]]"), ("chunk([], 3)", "[]")]),
    # --- keyword arguments, tuples, floats, quoted strings --------------------------
    dict(signature="def span(points):", doc='''
        (smallest, largest) of a list of numbers.

        >>> span([3, -1.5, 7])
        (-1.5, 7)
        ''', solution="    return (min(points), max(points))\n",
         examples=[("span([3, -1.5, 7])", "(-1.5, 7)")]),
    dict(signature="def greet(name, punctuation='!'):", doc='''
        A greeting.

        greet('Ann') -> 'Hello, Ann!'
        greet(name="Bo", punctuation="?") -> "Hello, Bo?"
        ''', solution="    return f'Hello, {name}{punctuation}'\n",
         examples=[("greet('Ann')", "'Hello, Ann!'"), ('greet(name="Bo", punctuation="?")', '"Hello, Bo?"')]),
    dict(signature="def hypot(a, b):", doc='''
        Length of the hypotenuse.

        >>> hypot(3, 4)
        5.0
        >>> round(hypot(1, 1), 3)
        1.414
        ''', solution="    return (a * a + b * b) ** 0.5\n",
         examples=[("hypot(3, 4)", "5.0"), ("round(hypot(1, 1), 3)", "1.414")]),
    dict(signature="def swap_case(s):", doc='''
        Swap upper and lower case.

        Example:
            swap_case("aBc") == "AbC"
            swap_case("123") == "123"
        ''', solution="    return s.swapcase()\n",
         examples=[('swap_case("aBc")', '"AbC"'), ('swap_case("123")', '"123"')]),
    # --- prose that is no example (nothing may be read from it) --------------------
    dict(signature="def fib(n):", doc='''
        The n-th Fibonacci number, where fib(0) is 0 and fib(1) is 1 by definition,
        and fib(n) = fib(n - 1) + fib(n - 2) after that.

        >>> fib(10)
        55
        ''', solution="    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
         examples=[("fib(0)", "0"), ("fib(1)", "1"), ("fib(10)", "55")]),
    dict(signature="def compose(f, g):", doc='''
        Returns compose(f, g)(x) = f(g(x)) for every x. No example here is literal.
        ''', solution="    return lambda x: f(g(x))\n", examples=[]),
    dict(signature="def safe_div(a, b):", doc='''
        a / b, or None when b is 0.

        >>> safe_div(1, 0)
        >>> safe_div(6, 3)
        2.0
        ''', solution="    return None if b == 0 else a / b\n",
         examples=[("safe_div(6, 3)", "2.0")]),
    dict(signature="def words(text):", doc='''
        The words of text, lower case, without punctuation.

        >>> words("Hi, there!")
        ['hi', 'there']
        ''', solution="    import re\n    return re.findall(r'[a-z]+', text.lower())\n",
         examples=[('words("Hi, there!")', "['hi', 'there']")]),
    dict(signature="def squares(n):", doc='''
        The first n square numbers, where squares(1) = [0] by definition.

        Examples:
            squares(3) => [0, 1, 4]
            squares(0) => []
        ''', solution="    return [i * i for i in range(n)]\n",
         examples=[("squares(3)", "[0, 1, 4]"), ("squares(0)", "[]"), ("squares(1)", "[0]")]),
    dict(signature="def parity(n):", doc='''
        "even" or "odd".

        Usage: parity(4) gives "even"; see also parity(7), which is "odd".
        ''', solution="    return 'even' if n % 2 == 0 else 'odd'\n",
         examples=[("parity(4)", '"even"')]),
]

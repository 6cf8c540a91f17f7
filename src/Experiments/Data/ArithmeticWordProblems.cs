namespace MoeLab.Experiments.Data;

/// <summary>Which number pool a generated problem draws its stated quantities from.</summary>
public enum ArithmeticSplit
{
    /// <summary>Every number stated in the question is NOT ≡ 3 (mod 5).</summary>
    Train,

    /// <summary>Every number stated in the question IS ≡ 3 (mod 5): held out, disjoint from training.</summary>
    HeldOut,
}

/// <summary>One generated problem: question, worked solution, the template it came from and the
/// numbers stated in the question.</summary>
public sealed record ArithmeticProblem(int Template, string Query, string Response, IReadOnlyList<int> StatedNumbers, int Answer)
{
    /// <summary>The training text, in MetaMathQA's layout: <c>query : … response : …</c>.</summary>
    public string Text => $"query : {Query} response : {Response}";
}

/// <summary>A seeded generator of multi-step arithmetic word problems with worked solutions
/// ("query : … response : … The answer is: N"), an offline stand-in for MetaMathQA (the corpus of the
/// Chain-of-Experts paper). Eleven templates (shopping, giving away, change, distance, sharing,
/// saving, fencing, ages, chairs, a library, reading), each 2–3 steps of +, −, × or ÷, with names,
/// items and numbers drawn from the seed.
/// <para><b>Held-out split: disjoint numbers, same templates.</b> A number is held out when it is
/// ≡ 3 (mod 5). Training problems never state a held-out number in the question; held-out problems
/// state only held-out numbers. So no held-out question can occur in training, and the held-out loss
/// measures arithmetic and phrasing on unseen operands (intermediate results and answers may be any
/// number in both splits).</para></summary>
public static class ArithmeticWordProblems
{
    /// <summary>Number of templates.</summary>
    public const int TemplateCount = 11;

    /// <summary>True for numbers reserved to the held-out split (n ≡ 3 mod 5).</summary>
    public static bool IsHeldOutNumber(int n) => ((n % 5) + 5) % 5 == 3;

    private static readonly string[] Names =
        ["Ava", "Ben", "Carla", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Liam", "Mona", "Nils", "Olga", "Pedro",
         "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yuki", "Zane"];
    private static readonly string[] Items = ["apples", "pencils", "stickers", "marbles", "cards", "cookies", "stamps", "shells", "beads", "buttons"];
    private static readonly string[] Friends = ["a friend", "a neighbour", "a cousin", "a classmate", "a teammate"];

    /// <summary><paramref name="count"/> problems of <paramref name="split"/>, a pure function of the
    /// arguments. Templates cycle in a seeded order so each appears equally often (±1).</summary>
    public static List<ArithmeticProblem> Generate(int count, ArithmeticSplit split, int seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"count = {count}: expected ≥ 0.");
        var rng = new Random(seed);
        var problems = new List<ArithmeticProblem>(count);
        int[] order = Enumerable.Range(0, TemplateCount).ToArray();
        for (int i = 0; i < count; i++)
        {
            if (i % TemplateCount == 0) Shuffle(order, rng);
            problems.Add(Make(order[i % TemplateCount], new Sampler(rng, split)));
        }
        return problems;
    }

    /// <summary>The train and held-out splits used by experiments: <paramref name="train"/> training
    /// problems and <paramref name="heldOut"/> held-out ones (seeds derived from <paramref name="seed"/>),
    /// held-out duplicates removed (training and held-out questions can never coincide).</summary>
    public static (List<ArithmeticProblem> Train, List<ArithmeticProblem> HeldOut) Splits(int train, int heldOut, int seed)
    {
        var t = Generate(train, ArithmeticSplit.Train, unchecked(seed * 2 + 1));
        var seen = new HashSet<string>();
        var h = new List<ArithmeticProblem>(heldOut);
        int round = 0;
        while (h.Count < heldOut)
        {
            if (++round > 50) throw new InvalidOperationException($"ArithmeticWordProblems: could not draw {heldOut} distinct held-out problems.");
            foreach (var p in Generate(heldOut, ArithmeticSplit.HeldOut, unchecked(seed * 2 + 2 + 7919 * round)))
                if (h.Count < heldOut && seen.Add(p.Query)) h.Add(p);
        }
        return (t, h);
    }

    private static void Shuffle(int[] a, Random rng)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    /// <summary>Draws stated numbers from the split's pool.</summary>
    private sealed class Sampler(Random rng, ArithmeticSplit split)
    {
        public Random Rng => rng;
        public readonly List<int> Stated = new();

        public int Number(int lo, int hi)
        {
            for (int attempt = 0; attempt < 10_000; attempt++)
            {
                int n = rng.Next(lo, hi + 1);
                if (IsHeldOutNumber(n) == (split == ArithmeticSplit.HeldOut)) { Stated.Add(n); return n; }
            }
            throw new InvalidOperationException($"no {split} number in [{lo}, {hi}].");
        }

        /// <summary>True when <paramref name="n"/> belongs to this split's pool (for numbers that must be drawn
        /// jointly, e.g. a dividend that is a multiple of the divisor).</summary>
        public bool InPool(int n) => IsHeldOutNumber(n) == (split == ArithmeticSplit.HeldOut);

        public T Pick<T>(IReadOnlyList<T> xs) => xs[rng.Next(xs.Count)];
    }

    private static ArithmeticProblem Make(int template, Sampler s)
    {
        string name = s.Pick(Names), item = s.Pick(Items), friend = s.Pick(Friends);
        string q, r;
        int answer;
        switch (template)
        {
            case 0: // buy packs, already has some
            {
                int a = s.Number(2, 12), b = s.Number(2, 15), c = s.Number(1, 60);
                int ab = a * b; answer = ab + c;
                q = $"{name} buys {a} packs of {item} with {b} {item} in each pack and already has {c} {item}. How many {item} does {name} have now?";
                r = $"The packs hold {a} * {b} = {ab} {item}. Adding the {c} {item} {name} already had gives {ab} + {c} = {answer}. The answer is: {answer}";
                break;
            }
            case 1: // gives away, then receives
            {
                int b = s.Number(1, 40), a = s.Number(b + 1, b + 80), c = s.Number(1, 40);
                int left = a - b; answer = left + c;
                q = $"{name} has {a} {item}. {name} gives {b} of them to {friend} and then gets {c} more. How many {item} does {name} have?";
                r = $"After giving some away, {name} has {a} - {b} = {left} {item}. After getting more, {name} has {left} + {c} = {answer}. The answer is: {answer}";
                break;
            }
            case 2: // change from a payment
            {
                int a = s.Number(2, 20), b = s.Number(2, 9);
                int cost = a * b;
                int c = s.Number(cost + 1, cost + 60);
                answer = c - cost;
                q = $"One box of {item} costs {a} dollars. {name} buys {b} boxes and pays with {c} dollars. How much change does {name} get?";
                r = $"The boxes cost {b} * {a} = {cost} dollars. The change is {c} - {cost} = {answer} dollars. The answer is: {answer}";
                break;
            }
            case 3: // distance
            {
                int a = s.Number(20, 90), b = s.Number(2, 6), c = s.Number(5, 60);
                int first = a * b; answer = first + c;
                q = $"{name} drives at {a} km per hour for {b} hours and then drives {c} km more. How many km does {name} drive in total?";
                r = $"In {b} hours {name} covers {a} * {b} = {first} km. With the last part the total is {first} + {c} = {answer} km. The answer is: {answer}";
                break;
            }
            case 4: // share equally, then each eats some
            {
                int b, share, a;
                do { b = s.Rng.Next(2, 10); share = s.Rng.Next(4, 16); a = b * share; }
                while (!s.InPool(a) || !s.InPool(b));
                s.Stated.Add(a); s.Stated.Add(b);
                int c = s.Number(1, share - 1);
                answer = share - c;
                q = $"{name} shares {a} {item} equally among {b} children. Each child then loses {c} of them. How many {item} does each child have left?";
                r = $"Each child gets {a} / {b} = {share} {item}. After losing some, each has {share} - {c} = {answer}. The answer is: {answer}";
                break;
            }
            case 5: // saving per week, then spending
            {
                int a = s.Number(3, 25), b = s.Number(2, 12);
                int saved = a * b;
                int c = s.Number(1, saved - 1);
                answer = saved - c;
                q = $"{name} saves {a} dollars every week for {b} weeks and then spends {c} dollars on a gift. How many dollars are left?";
                r = $"{name} saves {a} * {b} = {saved} dollars. After the gift, {saved} - {c} = {answer} dollars are left. The answer is: {answer}";
                break;
            }
            case 6: // fence around a rectangle, cost per metre
            {
                int a = s.Number(3, 30), b = s.Number(2, 20), c = s.Number(2, 9);
                int half = a + b, perimeter = 2 * half; answer = perimeter * c;
                q = $"A garden is {a} m long and {b} m wide. A fence costs {c} dollars per metre. How much does it cost to fence the whole garden?";
                r = $"Half the perimeter is {a} + {b} = {half} m, so the perimeter is 2 * {half} = {perimeter} m. The fence costs {perimeter} * {c} = {answer} dollars. The answer is: {answer}";
                break;
            }
            case 7: // ages
            {
                int a = s.Number(2, 15), b = s.Number(1, 12), c = s.Number(2, 4);
                int brother = a + b; answer = brother * c;
                q = $"{name} is {a} years old. Her brother is {b} years older than her. Their grandmother is {c} times as old as the brother. How old is the grandmother?";
                r = $"The brother is {a} + {b} = {brother} years old. The grandmother is {brother} * {c} = {answer} years old. The answer is: {answer}";
                break;
            }
            case 8: // chairs in rows, some removed, some added
            {
                int a = s.Number(3, 15), b = s.Number(3, 15);
                int chairs = a * b;
                int c = s.Number(1, chairs - 1), d = s.Number(1, 30);
                int left = chairs - c; answer = left + d;
                q = $"A hall has {a} rows of {b} chairs. {c} chairs are taken away and {d} new chairs are brought in. How many chairs are in the hall?";
                r = $"At first there are {a} * {b} = {chairs} chairs. After removing some there are {chairs} - {c} = {left}. With the new ones there are {left} + {d} = {answer}. The answer is: {answer}";
                break;
            }
            case 9: // library
            {
                int a = s.Number(50, 400), b = s.Number(2, 9), c = s.Number(5, 30);
                int bought = b * c, total = a + bought;
                int d = s.Number(1, total - 1);
                answer = total - d;
                q = $"A library has {a} books. It buys {b} boxes with {c} books each and then lends out {d} books. How many books are still in the library?";
                r = $"The boxes hold {b} * {c} = {bought} books, so the library has {a} + {bought} = {total}. After lending, {total} - {d} = {answer} books remain. The answer is: {answer}";
                break;
            }
            case 10: // reading
            {
                int b = s.Number(5, 30), c = s.Number(2, 9);
                int read = b * c;
                int a = s.Number(read + 1, read + 200);
                answer = a - read;
                q = $"A book has {a} pages. {name} reads {b} pages a day for {c} days. How many pages are left to read?";
                r = $"{name} reads {b} * {c} = {read} pages. The pages left are {a} - {read} = {answer}. The answer is: {answer}";
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(template), template, $"expected 0..{TemplateCount - 1}.");
        }
        return new ArithmeticProblem(template, q, r, s.Stated.ToList(), answer);
    }
}

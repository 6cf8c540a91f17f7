using System.Xml.Linq;
using MoeLab.Experiments.Data;

namespace MoeLab.Experiments.Tests.Data;

public sealed class BpeCorpusTests
{
    [Fact]
    public void ExtractsSummaryAndRemarksGroupedByType()
    {
        string dir = Directory.CreateTempSubdirectory("moelab-docs-").FullName;
        try
        {
            string file = Path.Combine(dir, "Sample.xml");
            File.WriteAllText(file, """
                <?xml version="1.0"?><doc><members>
                <member name="T:Ns.Alpha"><summary>Represents an <see cref="T:System.Object" /> wrapper.</summary><remarks>Use <paramref name="x" /> with <see langword="null" />.</remarks></member>
                <member name="M:Ns.Alpha.Run(System.Int32)"><summary>Runs it.</summary><param name="a">ignored</param></member>
                <member name="T:Ns.Beta"><summary>Second type</summary></member>
                </members></doc>
                """);
            var docs = DotNetDocsCorpus.ReadDocumentsFromFile(file).ToList();
            Assert.Equal(2, docs.Count);
            Assert.Equal("Represents an Object wrapper. Use x with null. Runs it.", docs[0]);
            Assert.Equal("Second type.", docs[1]);
            Assert.DoesNotContain("ignored", docs[0]);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TypeOfMemberNames()
    {
        Assert.Equal("System.String", DotNetDocsCorpus.TypeOf("M:System.String.Split(System.Char)"));
        Assert.Equal("System.String", DotNetDocsCorpus.TypeOf("T:System.String"));
        Assert.Equal("System.String", DotNetDocsCorpus.TypeOf("P:System.String.Length"));
    }

    [Fact]
    public void Gpt2BpeRoundTripsAndCorpusSplitsByDocument()
    {
        var tok = BpeCorpus.Gpt2Tokenizer;
        var ids = tok.EncodeToIds("Hello world");
        Assert.Equal([15496, 995], ids); // GPT-2 BPE ids of "Hello" and " world"

        var documents = Enumerable.Range(0, 20).Select(i => $"Document number {i} describes the type Widget{i} and its members.").ToList();
        var corpus = BpeCorpus.Build(documents, documentCount: 20, sequenceLength: 8, validationFraction: 0.1, testFraction: 0.1, seed: 1);
        Assert.Equal(20, corpus.DocumentCount);
        // 16 train docs → 16 end-of-text tokens in the train stream, 2 in each of val/test
        int eot = Array.IndexOf(corpus.Gpt2Ids, BpeCorpus.Gpt2EndOfText);
        Assert.Equal(16, corpus.Train.Count(i => i == eot));
        Assert.Equal(2, corpus.Validation.Count(i => i == eot));
        Assert.Equal(2, corpus.Test.Count(i => i == eot));
        Assert.Equal(0, corpus.UnknownRate(corpus.Train));
        Assert.True(corpus.UnknownRate(corpus.Test) > 0); // "Widget<i>" digits of held-out docs are partly unseen
        var windows = corpus.Windows(corpus.Train, out int count);
        Assert.Equal(corpus.Train.Length / 9, count);
        Assert.Equal(count * 9, windows.Length);
        // decoding compact ids gives back the text
        Assert.Contains("Document number", corpus.Decode(corpus.Train.Take(12)));
    }

    [Fact]
    public void RealSdkDocumentationIsFoundAndReadable()
    {
        string dir = DotNetDocsCorpus.FindXmlDirectory();
        var docs = DotNetDocsCorpus.ReadDocumentsFromFile(Path.Combine(dir, "System.Collections.xml")).ToList();
        Assert.True(docs.Count > 20, $"only {docs.Count} documents in System.Collections.xml");
        Assert.Contains(docs, d => d.Contains("collection", StringComparison.OrdinalIgnoreCase));
    }
}

using MoeLab.Experiments.Notebooks;

namespace MoeLab.Experiments.Tests.Notebooks;

public class MarkdownTests
{
    [Fact]
    public void RendersTheCommonBlocks()
    {
        string html = Markdown.ToHtml("""
            # Title *x*

            Some **bold** and `a<b>` and [link](https://e.org) text
            continued.

            - one
            - two `code`

            1. first
            2. second

            ```bash
            echo "<hi>"
            ```

            | a | b |
            |---|:-:|
            | 1 | 2 |

            > quoted
            """);
        Assert.Contains("<h1>Title <em>x</em></h1>", html);
        Assert.Contains("<p>Some <strong>bold</strong> and <code>a&lt;b&gt;</code> and <a href=\"https://e.org\">link</a> text\ncontinued.</p>", html);
        Assert.Contains("<ul>\n<li>one</li>\n<li>two <code>code</code></li>\n</ul>", html);
        Assert.Contains("<ol>\n<li>first</li>\n<li>second</li>\n</ol>", html);
        Assert.Contains("<pre><code>echo &quot;&lt;hi&gt;&quot;</code></pre>", html);
        Assert.Contains("<th>a</th><th>b</th>", html);
        Assert.Contains("<td>1</td><td>2</td>", html);
        Assert.Contains("<blockquote><p>quoted</p>\n</blockquote>", html);
    }

    [Fact]
    public void EscapesRawHtml()
    {
        Assert.Equal("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n", Markdown.ToHtml("<script>alert(1)</script>"));
    }
}

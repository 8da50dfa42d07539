using K3dEtcd.Browser;

namespace K3dEtcd.Tests;

/// <summary>The browser's pure parts: value views and request parsing.</summary>
public sealed class EtcdBrowserUnitTests
{
    [Fact]
    public void The_protobuf_dump_names_the_envelope_and_metadata_and_nests_messages()
    {
        var value = KubernetesProtobuf.Namespace("default", "uid-1");
        var dump = KeyDetailService.DumpEnvelope(value.AsSpan(4));
        Assert.Contains("1 typeMeta {\n  1 apiVersion: \"v1\"\n  2 kind: \"Namespace\"\n}", dump);
        Assert.Contains("  1 metadata {\n    1 name: \"default\"\n    5 uid: \"uid-1\"", dump);
        Assert.Contains("    8 creationTimestamp {\n      1: 1700000000\n    }", dump);
        // spec { finalizers: ["kubernetes"] } is a nested message, not the string "\n\nkubernetes".
        Assert.Contains("  2 {\n    1: \"kubernetes\"\n  }", dump);
        Assert.Contains("3 contentEncoding: \"\"", dump);
    }

    [Fact]
    public void Malformed_protobuf_is_reported_not_thrown()
    {
        var dump = KeyDetailService.DumpEnvelope(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01 });
        Assert.Contains("malformed", dump);
    }

    [Theory]
    [InlineData("{\"a\":[1,2]}", "{\n  \"a\": [\n    1,\n    2\n  ]\n}")]
    [InlineData("[\"<b>\"]", "[\n  \"<b>\"\n]")]
    [InlineData("not json", null)]
    [InlineData("{broken", null)]
    public void Json_values_are_indented_and_other_text_is_not(string text, string? expected) =>
        Assert.Equal(expected, KeyDetailService.IndentJson(text));

    [Fact]
    public void The_hex_dump_shows_offsets_bytes_and_printable_characters()
    {
        var dump = KeyDetailService.HexDump("k8s\0abcdefghijklmnop"u8, 1024);
        Assert.StartsWith("00000000  6b 38 73 00 61 62 63 64  65 66 67 68 69 6a 6b 6c  k8s.abcdefghijkl\n00000010  6d 6e 6f 70", dump);
        Assert.Equal(2, dump.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Query_values_are_percent_decoded_and_plus_stays_a_plus()
    {
        var q = BrowserHttp.ParseQuery("?prefix=%2Fregistry%2F&key=a+b%20c&token=x&empty=");
        Assert.Equal("/registry/", q["prefix"]);
        Assert.Equal("a+b c", q["key"]);
        Assert.Equal("", q["empty"]);
        Assert.Empty(BrowserHttp.ParseQuery(null));
    }

    [Theory]
    [InlineData("k3detcd-browser-1234=abc", "abc")]
    [InlineData("other=1; k3detcd-browser-1234=abc; more=2", "abc")]
    [InlineData("k3detcd-browser-12345=abc", null)]   // another port's browser
    [InlineData("xk3detcd-browser-1234=abc", null)]
    [InlineData(null, null)]
    public void The_cookie_is_read_by_its_exact_name(string? header, string? expected) =>
        Assert.Equal(expected, BrowserRequestGuard.CookieValue(header, "k3detcd-browser-1234"));
}

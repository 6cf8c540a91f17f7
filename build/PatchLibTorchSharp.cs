// MSBuild task (compiled by RoslynCodeTaskFactory, see Directory.Build.targets).
//
// TorchSharp 0.107.0's libLibTorchSharp.so was linked with GCC 13 and asks for GLIBCXX_3.4.32
// for exactly one symbol (std::ios_base_library_init) that no relocation uses. Debian 12's
// libstdc++ stops at GLIBCXX_3.4.30, so the loader refuses the library. Marking that version
// requirement weak (VER_FLG_WEAK in .gnu.version_r) lets glibc load it; the README's section "TorchSharp on Debian 12" explains it.
// The task patches only on hosts whose libstdc++ lacks the version, is idempotent, writes the
// patched copy atomically (which also breaks a hard link to the NuGet cache) and says what it did.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PatchLibTorchSharp : Task
{
    [Required] public string Directory { get; set; } = "";
    public string RequiredVersion { get; set; } = "GLIBCXX_3.4.32";
    public bool Force { get; set; }

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;

    public override bool Execute()
    {
        string lib = Path.GetFullPath(Path.Combine(Directory, "libLibTorchSharp.so"));
        if (!File.Exists(lib)) return true;
        if (!Force && HostProvides(RequiredVersion, out string host))
        {
            Log.LogMessage(MessageImportance.Low, $"MoeLab: {host} provides {RequiredVersion}; {lib} needs no patch.");
            return true;
        }
        try
        {
            byte[] bytes = File.ReadAllBytes(lib);
            int changed = MarkWeak(bytes, RequiredVersion, out int found);
            if (found == 0)
            {
                Log.LogMessage(MessageImportance.Normal, $"MoeLab: {lib} does not require {RequiredVersion}; nothing to patch.");
                return true;
            }
            if (changed == 0)
            {
                Log.LogMessage(MessageImportance.Normal, $"MoeLab: {lib} already has {RequiredVersion} marked weak.");
                return true;
            }
            string tmp = lib + ".moelab-patch.tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Replace(tmp, lib, null); // rename onto a new inode: never edits the NuGet cache through a hard link
            Log.LogMessage(MessageImportance.High, $"MoeLab: host libstdc++ lacks {RequiredVersion}; marked that requirement weak in {lib} (Debian 12 fix, see the README).");
            return true;
        }
        catch (Exception e)
        {
            Log.LogError($"MoeLab: could not patch {lib}: {e.Message}");
            return false;
        }
    }

    static bool HostProvides(string version, out string where)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        };
        foreach (string c in candidates)
        {
            if (!File.Exists(c)) continue;
            where = c;
            byte[] data = File.ReadAllBytes(c);
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            return IndexOf(data, needle) >= 0;
        }
        where = "no libstdc++ found";
        return false; // unknown host: patching is harmless (a weak requirement still binds when present)
    }

    static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>Sets VER_FLG_WEAK on every .gnu.version_r auxiliary entry named <paramref name="version"/>.
    /// Returns how many entries changed; <paramref name="found"/> counts the entries with that name.</summary>
    public static int MarkWeak(byte[] elf, string version, out int found)
    {
        found = 0;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            uint count = BitConverter.ToUInt32(elf, sh + 0x2C);
            int strSh = checked((int)shoff + (int)link * shentsize);
            int strOffset = checked((int)BitConverter.ToUInt64(elf, strSh + 0x18));
            int vn = offset;
            for (uint i = 0; i < count; i++)
            {
                ushort cnt = BitConverter.ToUInt16(elf, vn + 2);
                uint aux = BitConverter.ToUInt32(elf, vn + 8);
                uint next = BitConverter.ToUInt32(elf, vn + 12);
                int va = vn + (int)aux;
                for (int a = 0; a < cnt; a++)
                {
                    ushort flags = BitConverter.ToUInt16(elf, va + 4);
                    uint name = BitConverter.ToUInt32(elf, va + 8);
                    uint vnaNext = BitConverter.ToUInt32(elf, va + 12);
                    if (ReadCString(elf, strOffset + (int)name) == version)
                    {
                        found++;
                        if ((flags & VerFlagWeak) == 0)
                        {
                            ushort f = (ushort)(flags | VerFlagWeak);
                            elf[va + 4] = (byte)(f & 0xff);
                            elf[va + 5] = (byte)(f >> 8);
                            changed++;
                        }
                    }
                    if (vnaNext == 0) break;
                    va += (int)vnaNext;
                }
                if (next == 0) break;
                vn += (int)next;
            }
        }
        return changed;
    }

    static string ReadCString(byte[] data, int start)
    {
        int end = start;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}

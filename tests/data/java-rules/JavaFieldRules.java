// Prints what java.lang parses for each header-field spelling (Integer.parseInt,
// Long.parseLong, Boolean.parseBoolean), one TSV line per spelling, and the
// BMP zero digits that Character.digit(c, 10) accepts. Spellings are read from
// stdin, one per line, with \\uXXXX escapes.
import java.io.*;
import java.util.*;

public class JavaFieldRules {
    static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 5 < s.length() + 0 && s.charAt(i + 1) == 'u') {
                b.append((char) Integer.parseInt(s.substring(i + 2, i + 6), 16));
                i += 5;
            } else if (c == '\\' && i + 1 < s.length() && s.charAt(i + 1) == '\\') {
                b.append('\\');
                i++;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '\\') b.append("\\\\");
            else if (c < 0x20 || c > 0x7e || c == '"') b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.toString();
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("digits")) {
            for (int c = 0; c < 0x10000; c++) {
                int d = Character.digit((char) c, 10);
                if (d == 0) System.out.printf("0x%04x%n", c);
                if (d > 0 && Character.digit((char) (c - d), 10) != 0) throw new IllegalStateException("run " + c);
            }
            return;
        }
        if (args.length > 0 && args[0].equals("decimal")) {
            // JSON number literals that are not integers: fastjson reads them as
            // BigDecimal and a String field gets BigDecimal.toString().
            BufferedReader din = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
            String l;
            System.out.println("# JSON number literal\tnew java.math.BigDecimal(literal).toString()  (" +
                               System.getProperty("java.version") + ")");
            while ((l = din.readLine()) != null) {
                if (l.startsWith("#") || l.isEmpty()) continue;
                System.out.println(l + "\t" + new java.math.BigDecimal(l).toString());
            }
            return;
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        String line;
        System.out.println("# spelling\tInteger.parseInt\tLong.parseLong\tBoolean.parseBoolean  (" +
                           System.getProperty("java.version") + ")");
        while ((line = in.readLine()) != null) {
            if (line.startsWith("#")) continue;
            String s = unescape(line);
            String i, l;
            try { i = "OK " + Integer.parseInt(s); } catch (NumberFormatException e) { i = "NFE " + escape(e.toString()); }
            try { l = "OK " + Long.parseLong(s); } catch (NumberFormatException e) { l = "NFE " + escape(e.toString()); }
            System.out.println(escape(s) + "\t" + i + "\t" + l + "\t" + Boolean.parseBoolean(s));
        }
    }
}

fn main() {
    println!("ringress-load: skeleton");
}

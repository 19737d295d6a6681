fn main() {
    println!("ringress: skeleton");
}
